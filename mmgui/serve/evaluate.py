"""Evaluate a served model version (ONNX Runtime, as users get it) on a Kaggle-format folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmgui.data.kaggle import MovieRecord, labels_of, load_records, select_split
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.metrics import evaluate_probs
from mmgui.serve.predictor import GenrePredictor, PredictInput

MODALITY_NAMES = ("poster", "overview")


def parse_modalities(text: str) -> tuple[str, ...]:
    chosen = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = set(chosen) - set(MODALITY_NAMES)
    if not chosen or unknown:
        raise MmguiError(f"--modalities takes a comma list of {', '.join(MODALITY_NAMES)}")
    return chosen


def predict_records(
    predictor: GenrePredictor,
    records: list[MovieRecord],
    modalities: tuple[str, ...],
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(N, 18) probabilities for `records`, using only the given modalities."""
    use_poster, use_text = "poster" in modalities, "overview" in modalities
    rows = []
    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        items = [
            PredictInput(
                poster=r.poster if use_poster else None,
                overview=r.overview if use_text else None,
                title=r.title if use_text else None,
            )
            for r in batch
        ]
        rows.extend(p.genre_probs for p in predictor.predict_many(items))
        if progress:
            progress(min(start + batch_size, len(records)), len(records))
    return np.array([[row[g] for g in GENRES] for row in rows], dtype=np.float32)


def evaluate_version(
    predictor: GenrePredictor,
    data_dir: Path,
    split: str = "test",
    modalities: tuple[str, ...] = MODALITY_NAMES,
) -> dict:
    """The metrics JSON of DESIGN.md for one version on one split of a folder."""
    records = select_split(load_records(data_dir), split)
    usable = [
        r
        for r in records
        if ("poster" in modalities and r.poster) or ("overview" in modalities and r.overview)
    ]
    if not usable:
        raise MmguiError(f"no movie in {data_dir} ({split}) has the modalities {modalities}")
    probs = predict_records(predictor, usable, modalities)
    result = evaluate_probs(labels_of(usable), probs, predictor.thresholds)
    return {
        "model_version": predictor.name,
        "data": str(data_dir),
        "split": split,
        "modalities": list(modalities),
        **result,
    }
