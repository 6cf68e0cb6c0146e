"""The review queue's tables (SQLAlchemy 2 declarative); Alembic migrations create them.

Nothing is overwritten: every editor action is a `Decision` row with the labels before and
after, and every model output a `Prediction` row. `Item` carries denormalised copies of the
latest of each (current labels, status, queue scores) so the queue is one indexed query; they
change only in the same transaction as the row they copy. Label sets are integers with bit
`i` for `GENRES[i]` (`mmgui.genres.genre_mask`), so "has genre G" is one bitwise test on any
database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mmgui.store.enums import ItemStatus, JobMode, JobStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Item(Base):
    """One film of the catalogue (upserted by `external_id`, e.g. an imdb_id)."""

    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    overview: Mapped[str] = mapped_column(Text, default="")
    poster_file: Mapped[str | None] = mapped_column(String(200))  # in the media dir, by sha256
    clip_file: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(500), default="")
    original_mask: Mapped[int | None] = mapped_column(BigInteger)  # the source's genres
    labels_mask: Mapped[int | None] = mapped_column(BigInteger)  # current: latest decision
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.PENDING)
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic lock
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # From the latest prediction (see `store.review.queue_scores`).
    prediction_id: Mapped[int | None] = mapped_column(Integer)  # no FK: predictions refer here
    predicted_mask: Mapped[int | None] = mapped_column(BigInteger)
    uncertainty: Mapped[float | None] = mapped_column(Float)
    disagreement: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_items_status_uncertainty", "status", "uncertainty"),
        Index("ix_items_status_disagreement", "status", "disagreement"),
        Index("ix_items_status_created", "status", "created_at"),
    )


class Prediction(Base):
    __tablename__ = "predictions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    model_version: Mapped[str] = mapped_column(String(200))
    probs: Mapped[list[float]] = mapped_column(JSON)  # 18 calibrated probabilities
    thresholds: Mapped[list[float]] = mapped_column(JSON)  # the version's, at the time
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Decision(Base):
    """One editor action on one item; never updated or deleted."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    username: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(20))  # a DecisionAction
    labels_before: Mapped[list[str] | None] = mapped_column(JSON)  # None: no labels yet
    labels_after: Mapped[list[str]] = mapped_column(JSON)
    status_before: Mapped[str] = mapped_column(String(20))
    status_after: Mapped[str] = mapped_column(String(20))
    model_version: Mapped[str | None] = mapped_column(String(200))
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    seconds_spent: Mapped[float | None] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)  # the editor's note, kept and exported
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    promoted_by: Mapped[str | None] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(String(200))  # the version it was tuned from
    job_id: Mapped[int | None] = mapped_column(Integer)
    flagged: Mapped[str | None] = mapped_column(Text)  # why it looks worse than its parent


class Promotion(Base):
    """One version made active. A rollback undoes the newest promotion not yet undone and
    serves the one below it, so successive rollbacks walk back the history."""

    __tablename__ = "promotions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[str | None] = mapped_column(String(200))


class TrainingJob(Base):
    __tablename__ = "training_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED, index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(20), default=JobMode.HEADS)
    trigger: Mapped[str] = mapped_column(String(50), default="button")
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    progress: Mapped[list] = mapped_column(JSON, default=list)
    worker: Mapped[str | None] = mapped_column(String(200))
    device: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    result_version: Mapped[str | None] = mapped_column(String(200))
    # Claimed but not started: what it waits for (who holds the device); None once it runs.
    waiting_for: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """What an admin (or an import, export or bulk edit) did, with its parameters."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    username: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))  # an AuditAction
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
