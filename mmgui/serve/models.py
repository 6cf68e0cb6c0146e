"""Model versions and training jobs as the studio sees them: train now, watch, compare,
promote, roll back.

The database says which version is active; every studio process serves that one (`sync`
swaps it in without a restart when another process promoted). Promoting, rolling back and
cancelling follow the rules of `serve.actions`, the same functions the command line calls;
here each is followed by serving the version it made active.
"""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass
from pathlib import Path

from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.actions import (
    cancel_job,
    promote_version,
    rollback_question,
    rollback_version,
)
from mmgui.serve.studio import Studio
from mmgui.store.enums import JobMode
from mmgui.store.jobs import JobQueue, JobView
from mmgui.store.review import ReviewStore
from mmgui.store.versions import VersionTable, VersionView
from mmgui.versions import read_card


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

    def train_now(self, username: str, mode: str = JobMode.HEADS, **params: object) -> int:
        if self.jobs.pending():
            raise MmguiError("a training job is already queued or running; wait or cancel it")
        return self.jobs.enqueue(username, mode, "button", **params)

    def full_mode_unavailable(self) -> str | None:
        """None when this machine can run a full finetune (backbones too), else why not."""
        if self.studio.settings.device == "cpu":
            return "full finetuning needs a CUDA GPU; the device setting is cpu"
        if not nvidia_device_present():  # said without loading torch (seconds, ~1 GB)
            return "full finetuning needs a CUDA GPU; this machine shows no NVIDIA device"
        import torch

        if not torch.cuda.is_available():
            return "full finetuning needs a CUDA GPU; torch sees none on this machine"
        return None

    def maybe_auto_train(self) -> int | None:
        """Queue a job when `auto_train_every` new corrections have been made since the last
        one (and none is pending). Returns the job id, if one was queued."""
        every = self.studio.settings.auto_train_every
        if every <= 0 or self.jobs.pending() or self.jobs.corrections_since_last_job() < every:
            return None
        return self.jobs.enqueue("(auto)", JobMode.HEADS, f"auto:{every}")

    def cancel(self, job_id: int, username: str) -> str:
        """`cancel_job`: a job `username` queued (an admin: any job); returns its new status."""
        return cancel_job(self.jobs, self.studio.settings, job_id, username)

    def recent_jobs(self, limit: int = 20) -> list[JobView]:
        return self.jobs.recent(limit)

    # -- versions ----------------------------------------------------------------------------

    def compare(self, name: str, against: str | None = None) -> list[GenreDelta]:
        """Per-genre ROC-AUC and F1 of `name` and their change from `against` (default: the
        version it was tuned from), on the evaluation data both were scored on."""
        card = read_card(self.studio.settings.models_dir / self.versions.get(name).path)
        mine, base = card.eval_metrics, (card.active_metrics or {}).get("eval", {})
        if against and against != card.parent:
            raise MmguiError(f"{name} was scored against {card.parent}, not {against}")
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
        """`promote_version`, then serve it now."""
        promoted = promote_version(self.versions, self.studio.settings, name, username, confirmed)
        self.sync()
        return promoted

    def rollback_question(self, username: str) -> tuple[str, str]:
        """`rollback_question`: (the question to ask, the version a rollback would serve)."""
        return rollback_question(self.versions, self.studio.settings, username)

    def rollback(self, username: str, confirmed_version: str | None = None) -> VersionView:
        """`rollback_version` (`NeedsConfirmation` unless `confirmed_version` is the version it
        would serve), then serve it now."""
        rolled_back = rollback_version(
            self.versions, self.studio.settings, username, confirmed_version
        )
        self.sync()
        return rolled_back


def nvidia_device_present() -> bool:
    """False only where CUDA surely cannot work: a Linux machine with no NVIDIA device node
    (/dev/nvidia0, ...; WSL's /dev/dxg). Elsewhere True, and torch has the last word."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(glob.glob("/dev/nvidia[0-9]*")) or Path("/dev/dxg").exists()
