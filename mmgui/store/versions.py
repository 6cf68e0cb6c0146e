"""Which model versions exist and which one is active, kept in the database.

The files of a version live in the models folder (`training.registry`); this table says
which one the studio serves. Promoting is explicit and audited; rolling back is promoting an
earlier version. Exactly one row is active at a time (changed in one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mmgui.errors import MmguiError
from mmgui.store.db import transaction
from mmgui.store.schema import AuditEntry, ModelVersion, utcnow
from mmgui.training.registry import read_model_json


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
        active: bool = False,
    ) -> None:
        with transaction(self.sessions) as session:
            if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)):
                raise MmguiError(f"model version {name!r} is already registered")
            if active:
                session.execute(update(ModelVersion).values(is_active=False))
            session.add(
                ModelVersion(
                    name=name, path=path, metrics=metrics, parent=parent, job_id=job_id,
                    flagged=flagged, is_active=active, promoted_at=utcnow() if active else None,
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
        test = read_model_json(default_version).get("metrics", {}).get("test", {})
        metrics = {k: test[k] for k in ("n_items", "macro_roc_auc", "micro_f1") if k in test}
        with transaction(self.sessions) as session:
            existing = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
            if existing is None:
                row = ModelVersion(name=name, path=name, metrics=metrics, is_active=True)
                row.promoted_at, row.promoted_by = utcnow(), "(initial)"
                session.add(row)
            else:
                existing.is_active = True
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

    def promote(self, name: str, username: str) -> VersionView:
        """Make `name` the active version (also how a rollback is done); audited."""
        with transaction(self.sessions) as session:
            row = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
            if row is None:
                raise MmguiError(f"no model version {name!r}")
            previous = session.scalar(
                select(ModelVersion.name).where(ModelVersion.is_active.is_(True))
            )
            session.execute(update(ModelVersion).values(is_active=False))
            row.is_active, row.promoted_at, row.promoted_by = True, utcnow(), username
            detail = {"version": name, "previous": previous, "flagged": row.flagged}
            session.add(AuditEntry(username=username, action="promote", detail=detail))
        return self.get(name)


def _view(row: ModelVersion) -> VersionView:
    return VersionView(
        row.name, row.path, row.created_at, row.is_active, row.promoted_at, row.promoted_by,
        row.parent, row.job_id, row.flagged, dict(row.metrics or {}),
    )  # fmt: skip
