"""The real correction path, shared by `benchmarks/finetune.py` and `benchmarks/loop.py`.

A scratch studio in a temporary folder (SQLite queue, media folder, a copy of the default
model version: the repository's `models/` is never written), an editor's catalogue written as
a plain CSV without labels, a simulated editor who saves each chosen item with its true
genres through `ReviewStore.decide`, one finetuning job queued with `ModelManager.train_now`
and run by a `Worker` in this process, and scoring with the served predictor (ONNX Runtime,
thresholds as stored in each version).
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmgui.config import Settings
from mmgui.data.kaggle import MovieRecord
from mmgui.errors import MmguiError
from mmgui.serve.predictor import GenrePredictor, PredictInput
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.store.review import ReviewStore
from mmgui.versions import read_card
from mmgui.worker import Worker

EDITOR = "bench-editor"


def scratch_settings(work: Path, base: Settings | None = None) -> Settings:
    """Settings on a scratch database, media folder and copy of the default version."""
    base = base or Settings.load()
    models = work / "models"
    models.mkdir(parents=True)
    shutil.copytree(base.default_model_dir, models / base.default_model)
    return Settings.load(
        **{
            **vars(base),
            "models_dir": models,
            "db_url": f"sqlite:///{work / 'queue.db'}",
            "media_dir": work / "media",
            "auto_train_every": 0,
        }
    )


def write_catalogue(records: Sequence[MovieRecord], path: Path) -> Path:
    """A plain catalogue CSV (id, title, overview, poster) without labels: the editor's."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "overview", "poster"])
        for r in records:
            poster = "" if r.poster is None else poster_inside(r.poster, path.parent)
            writer.writerow([r.imdb_id, r.title, r.overview, poster])
    return path


def poster_inside(poster: Path, folder: Path) -> str:
    """`poster` as a path relative to the catalogue's `folder`, hard-linked (else copied) into
    its `posters/`: an import reads posters only inside its catalogue's folder."""
    target = folder / "posters" / poster.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(poster, target)
        except OSError:
            shutil.copyfile(poster, target)
    return f"posters/{poster.name}"


def item_ids(store: ReviewStore) -> dict[str, int]:
    """external id → item id for every item of the queue."""
    entries = store.queue(view="newest", status="all", limit=store.count("all") + 1)
    return {e.external_id: e.id for e in entries}


@dataclass
class Decisions:
    corrected: int = 0  # saved labels differ from the model's tags shown
    accepted: int = 0  # the model's tags were already right
    seconds: float = 0.0


def decide_true_genres(
    store: ReviewStore, ids: dict[str, int], records: Sequence[MovieRecord]
) -> Decisions:
    """The simulated editor: each record's item saved with its true genres."""
    started = time.perf_counter()
    tally = Decisions()
    for record in records:
        item = store.item(ids[record.imdb_id])
        saved = store.decide(item.id, EDITOR, list(record.genres), item.version)
        if saved.history[0].action == "correct":
            tally.corrected += 1
        else:
            tally.accepted += 1
    tally.seconds = time.perf_counter() - started
    return tally


@dataclass
class JobRun:
    version: Path
    meta_finetune: dict
    device: str
    status: str
    flagged: str | None  # why the job thinks it is worse than its parent, if it does
    epochs_run: int
    seconds: float  # wall time of the worker's run, claim to registration


def run_finetune_job(review: ReviewService, data_dir: Path, **params: object) -> JobRun:
    """Queue a heads job ("Train now") and let an in-process worker run it."""
    manager = review.manager
    job_id = manager.train_now(EDITOR, "heads", data_dir=str(data_dir), **params)
    started = time.perf_counter()
    Worker(review.studio.settings, log=lambda _: None).run(once=True)
    seconds = time.perf_counter() - started
    job = manager.jobs.get(job_id)
    if job.status != "done":
        raise MmguiError(f"finetuning job {job_id} ended {job.status}: {job.error}")
    version = review.studio.settings.models_dir / job.result_version
    card = read_card(version)
    return JobRun(
        version,
        dict(card.finetune or {}),
        job.device,
        job.status,
        card.flagged,
        len(card.history),
        seconds,
    )


def served_probs(
    version: Path, settings: Settings, store: ReviewStore, ids: Sequence[int], batch: int = 64
) -> tuple[str, np.ndarray, np.ndarray]:
    """(version name, probabilities, stored thresholds) of the served predictor on the items
    as the queue holds them (poster from the media folder, overview, title)."""
    predictor = GenrePredictor(version, settings)
    rows = []
    for start in range(0, len(ids), batch):
        items = [store.item(i) for i in ids[start : start + batch]]
        inputs = [PredictInput(it.poster, it.overview or None, it.title or None) for it in items]
        rows += [list(p.genre_probs.values()) for p in predictor.predict_many(inputs)]
    return predictor.name, np.array(rows, dtype=float), predictor.thresholds.astype(float)


def open_scratch_review(settings: Settings) -> ReviewService:
    return ReviewService.open(Studio(settings))


def setting(text: str) -> tuple[str, float | int]:
    """`KEY=VALUE` from the command line: a FinetuneSettings field for the job."""
    from mmgui.training.finetune import FinetuneSettings

    key, _, value = text.partition("=")
    if key not in FinetuneSettings.__dataclass_fields__:
        raise ValueError(f"{key} is not a FinetuneSettings field")
    return key, int(value) if value.lstrip("-").isdigit() else float(value)
