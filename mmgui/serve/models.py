"""Model versions and training jobs as the studio sees them: train now, watch, compare,
promote, roll back.

The database says which version is active; every studio process serves that one (`sync`
swaps it in without a restart when another process promoted). Promoting a candidate flagged
as worse than its parent needs an explicit confirmation; only admins promote.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.auth import role_of
from mmgui.serve.studio import Studio
from mmgui.store.jobs import JobQueue, JobView
from mmgui.store.review import ReviewStore
from mmgui.store.versions import VersionTable, VersionView
from mmgui.training.registry import read_model_json


class NeedsConfirmation(MmguiError):
    """Promoting this version needs the user to confirm (it looks worse than its parent)."""


@dataclass(frozen=True)
class GenreDelta:
    genre: str
    support: int
    auc: float | None
    auc_delta: float | None
    f1: float
    f1_delta: float | None  # None: no parent scored on the same data


class ModelManager:
    def __init__(self, studio: Studio, store: ReviewStore) -> None:
        self.studio = studio
        self.store = store
        self.jobs = JobQueue(store.sessions)
        self.versions = VersionTable(store.sessions)
        self.sync()

    def sync(self) -> VersionView:
        """Make the studio serve the database's active version (registering the shipped
        default on a fresh database)."""
        active = self.versions.ensure_active(self.studio.settings.default_model_dir)
        path = self.studio.settings.models_dir / active.path
        if path.resolve() != self.studio.version_dir.resolve():
            self.studio.use_version(path)
        return active

    # -- jobs --------------------------------------------------------------------------------

    def train_now(self, username: str, mode: str = "heads", **params: object) -> int:
        if self.jobs.pending():
            raise MmguiError("a training job is already queued or running; wait or cancel it")
        return self.jobs.enqueue(username, mode, "button", **params)

    def maybe_auto_train(self) -> int | None:
        """Queue a job when `auto_train_every` new corrections have been made since the last
        one (and none is pending). Returns the job id, if one was queued."""
        every = self.studio.settings.auto_train_every
        if every <= 0 or self.jobs.pending() or self.jobs.corrections_since_last_job() < every:
            return None
        return self.jobs.enqueue("(auto)", "heads", f"auto:{every}")

    def cancel(self, job_id: int) -> str:
        return self.jobs.request_cancel(job_id)

    def recent_jobs(self, limit: int = 20) -> list[JobView]:
        return self.jobs.recent(limit)

    # -- versions ----------------------------------------------------------------------------

    def compare(self, name: str, against: str | None = None) -> list[GenreDelta]:
        """Per-genre ROC-AUC and F1 of `name` and their change from `against` (default: the
        version it was tuned from), on the evaluation data both were scored on."""
        meta = read_model_json(self.studio.settings.models_dir / self.versions.get(name).path)
        mine = meta.get("metrics", {}).get("eval") or meta.get("metrics", {}).get("val", {})
        base = meta.get("active_metrics", {}).get("eval", {})
        if against and against != meta.get("parent"):
            raise MmguiError(f"{name} was scored against {meta.get('parent')}, not {against}")
        rows = []
        for genre in GENRES:
            g = mine.get("per_genre", {}).get(genre)
            if g is None:
                continue
            b = base.get("per_genre", {}).get(genre, {})
            auc_delta = None
            if g["roc_auc"] is not None and b.get("roc_auc") is not None:
                auc_delta = g["roc_auc"] - b["roc_auc"]
            f1_delta = g["f1"] - b["f1"] if "f1" in b else None
            rows.append(GenreDelta(genre, g["support"], g["roc_auc"], auc_delta, g["f1"], f1_delta))
        return rows

    def promote(self, name: str, username: str, confirmed: bool = False) -> VersionView:
        """Make `name` active and serve it now; a flagged version needs `confirmed`."""
        if self.role(username) != "admin":
            raise MmguiError("only admins promote model versions")
        version = self.versions.get(name)
        if version.flagged and not confirmed:
            raise NeedsConfirmation(
                f"{name} looks worse than {version.parent} on the evaluation data "
                f"({version.flagged}); confirm to promote it anyway"
            )
        read_model_json(self.studio.settings.models_dir / version.path)  # still on disk?
        promoted = self.versions.promote(name, username)
        self.sync()
        return promoted

    def rollback(self, username: str) -> VersionView:
        """Promote the version that was active before the current one (one click)."""
        promotions = [e for e in self.store.audit_log(limit=1000) if e.action == "promote"]
        active = self.versions.active()
        previous = next(
            (
                e.detail.get("previous")
                for e in promotions
                if e.detail.get("version") == active.name
            ),
            None,
        )
        if not previous:
            raise MmguiError(
                f"{active.name} was not promoted over another version: nothing to roll back to"
            )
        return self.promote(previous, username, confirmed=True)

    def role(self, username: str) -> str:
        return role_of(self.studio.settings.auth_file, username)
