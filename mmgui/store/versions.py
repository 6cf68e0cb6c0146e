"""Which model versions exist and which one is active, kept in the database.

The files of a version live in the models folder (`mmgui.versions`); this table says
which one the studio serves. Promoting is explicit and audited, and pushes onto the promotion
history; rolling back undoes the newest promotion and serves the one before it, so a second
rollback goes one step further back (never forth again). Exactly one row is active at a
time (changed in one transaction with the history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mmgui.errors import MmguiError
from mmgui.store.db import transaction
from mmgui.store.enums import AuditAction
from mmgui.store.schema import AuditEntry, ModelVersion, Promotion, utcnow
from mmgui.versions import read_card

INITIAL = "(initial)"  # who "promoted" the shipped default on a fresh database


@dataclass(frozen=True)
class VersionView:
    name: str
    path: str
    created_at: datetime
    is_active: bool
    promoted_at: datetime | None
    promoted_by: str | None
    parent: str | None
    job_id: int | None
    flagged: str | None
    metrics: dict


class VersionTable:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def register(
        self,
        name: str,
        path: str,
        metrics: dict,
        parent: str | None = None,
        job_id: int | None = None,
        flagged: str | None = None,
    ) -> None:
        """Record a new, inactive version (promoting it is a separate, explicit step)."""
        with transaction(self.sessions) as session:
            if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)):
                raise MmguiError(f"model version {name!r} is already registered")
            session.add(
                ModelVersion(
                    name=name, path=path, metrics=metrics, parent=parent, job_id=job_id,
                    flagged=flagged,
                )
            )  # fmt: skip

    def ensure_active(self, default_version: Path) -> VersionView:
        """The active version; on a fresh database, `default_version` (a folder in the models
        folder) is registered as the active one, with its test metrics. Its model.json is read
        only then, so calling this on every poll costs one query."""
        current = self.active()
        if current is not None:
            return current
        name = default_version.name
        test = read_card(default_version).test_metrics
        metrics = {k: test[k] for k in ("n_items", "macro_roc_auc", "micro_f1") if k in test}
        with transaction(self.sessions) as session:
            existing = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
            if existing is None:
                existing = ModelVersion(name=name, path=name, metrics=metrics)
                session.add(existing)
            existing.is_active, existing.promoted_at = True, utcnow()
            existing.promoted_by = INITIAL
            session.add(Promotion(version=name, username=INITIAL))
        return self.active()

    def active(self) -> VersionView | None:
        with self.sessions() as session:
            row = session.scalar(select(ModelVersion).where(ModelVersion.is_active.is_(True)))
            return _view(row) if row else None

    def get(self, name: str) -> VersionView:
        with self.sessions() as session:
            row = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
            if row is None:
                raise MmguiError(f"no model version {name!r}")
            return _view(row)

    def all(self) -> list[VersionView]:
        with self.sessions() as session:
            query = select(ModelVersion).order_by(
                ModelVersion.created_at.desc(), ModelVersion.id.desc()
            )
            return [_view(r) for r in session.scalars(query)]

    def history(self) -> list[str]:
        """The promotions not rolled back, newest (the active version) first: what successive
        rollbacks serve, in order."""
        with self.sessions() as session:
            return list(session.scalars(_live_promotions(Promotion.version)))

    def promote(self, name: str, username: str) -> VersionView:
        """Make `name` the active version, on top of the promotion history; audited."""
        with transaction(self.sessions) as session:
            row = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
            if row is None:
                raise MmguiError(f"no model version {name!r}")
            if row.is_active:
                raise MmguiError(f"{name} is already the active version")
            previous = _activate(session, row, username)
            session.add(Promotion(version=name, username=username))
            detail = {"version": name, "previous": previous, "flagged": row.flagged}
            session.add(AuditEntry(username=username, action=AuditAction.PROMOTE, detail=detail))
        return self.get(name)

    def rollback(self, username: str, expected: str) -> VersionView:
        """Undo the newest promotion and serve the version promoted before it, which must be
        `expected` (what the user confirmed; `MmguiError` if the history moved meanwhile)."""
        with transaction(self.sessions) as session:
            newest_two = _live_promotions(Promotion).limit(2).with_for_update()
            live = list(session.scalars(newest_two))
            if len(live) < 2 or live[1].version != expected:
                raise MmguiError(
                    f"the promotion history changed: a rollback would not serve {expected} "
                    "now; look again"
                )
            newest = live[0]
            newest.undone_at, newest.undone_by = utcnow(), username
            row = session.scalar(select(ModelVersion).where(ModelVersion.name == expected))
            previous = _activate(session, row, username)
            detail = {"version": expected, "previous": previous, "flagged": row.flagged}
            session.add(AuditEntry(username=username, action=AuditAction.ROLLBACK, detail=detail))
        return self.get(expected)


def _live_promotions(what):
    query = select(what).where(Promotion.undone_at.is_(None))
    return query.order_by(Promotion.id.desc())


def _activate(session: Session, row: ModelVersion, username: str) -> str | None:
    """Make `row` the one active version; returns the name of the one it replaces."""
    previous = session.scalar(select(ModelVersion.name).where(ModelVersion.is_active.is_(True)))
    session.execute(update(ModelVersion).values(is_active=False))
    row.is_active, row.promoted_at, row.promoted_by = True, utcnow(), username
    return previous


def _view(row: ModelVersion) -> VersionView:
    return VersionView(
        row.name, row.path, row.created_at, row.is_active, row.promoted_at, row.promoted_by,
        row.parent, row.job_id, row.flagged, dict(row.metrics or {}),
    )  # fmt: skip
