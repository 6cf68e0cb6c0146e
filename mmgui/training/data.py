"""From a Kaggle-format folder to per-split feature sets for head training.

Backbone features are computed through the same preprocessing serving uses
(`data.image.preprocess`, `data.overview.encoder_text` + `SubwordTokenizer`) and cached by
content hash (`training.features`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mmgui.data.image import load_image, preprocess_batch
from mmgui.data.kaggle import MovieRecord, labels_of
from mmgui.data.text import SubwordTokenizer, encoder_text
from mmgui.nets.backbones import (
    OverviewBackbone,
    PosterBackbone,
    minilm_dir,
    overview_spec,
    poster_spec,
)
from mmgui.training.features import FeatureCache, cached_features, content_key
from mmgui.training.heads import FeatureSet

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Encoders:
    """The frozen backbones and how their inputs are prepared (recorded in model.json)."""

    poster: PosterBackbone
    overview: OverviewBackbone
    poster_size: tuple[int, int]  # (width, height)
    max_tokens: int

    def tokenizer(self) -> SubwordTokenizer:
        return _tokenizer(self.max_tokens)

    def describe(self) -> dict:
        poster, overview = poster_spec(self.poster), overview_spec(self.overview)
        return {
            "poster": {
                "name": poster.name,
                "dim": poster.dim,
                "weights_sha256": poster.weights_sha256,
                "pooling": self.poster.pooling,
                "input_size": list(self.poster_size),
            },
            "overview": {
                "name": overview.name,
                "dim": overview.dim,
                "weights_sha256": overview.weights_sha256,
                "max_tokens": self.max_tokens,
                "text": "title. overview",
            },
        }

    def cache_ids(self) -> tuple[str, str]:
        poster, overview = poster_spec(self.poster), overview_spec(self.overview)
        width, height = self.poster_size
        return (
            f"poster-{poster.name}-{poster.weights_sha256[:12]}-{width}x{height}",
            f"overview-{overview.name}-{overview.weights_sha256[:12]}-{self.max_tokens}t",
        )


@functools.cache
def _tokenizer(max_tokens: int) -> SubwordTokenizer:
    """The sentence encoder's tokenizer, read once per process (full finetuning asks for it
    every batch)."""
    return SubwordTokenizer(minilm_dir() / "tokenizer.json", max_tokens)


def fingerprint(records: Sequence[MovieRecord]) -> str:
    """sha256 over ids, splits and labels: which data a version was trained on."""
    rows = [[r.imdb_id, r.split, list(r.genres)] for r in records]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def feature_set(
    records: Sequence[MovieRecord],
    encoders: Encoders,
    cache_dir: Path,
    progress: Progress | None = None,
) -> FeatureSet:
    """Cached backbone features of `records` with their labels and presence flags."""
    poster_id, overview_id = encoders.cache_ids()
    poster_present = np.array([r.poster is not None for r in records])
    overview_present = np.array([bool(r.overview) for r in records])
    posters = poster_features(
        [r.poster for r in records if r.poster is not None],
        encoders,
        FeatureCache(cache_dir, poster_id),
        progress,
    )
    texts = [encoder_text(r.overview, r.title).text for r in records if r.overview]
    overviews = overview_features(texts, encoders, FeatureCache(cache_dir, overview_id), progress)
    return FeatureSet(
        _scatter(posters, poster_present, encoders.poster.dim),
        _scatter(overviews, overview_present, encoders.overview.dim),
        poster_present,
        overview_present,
        labels_of(records),
    )


def poster_features(
    paths: Sequence[Path], encoders: Encoders, cache: FeatureCache, progress: Progress | None
) -> np.ndarray:
    keys = [content_key(Path(p).read_bytes()) for p in paths]

    def compute(indices: list[int]) -> np.ndarray:
        images = [load_image(paths[i]) for i in indices]
        batch = torch.from_numpy(preprocess_batch(images, encoders.poster_size))
        with torch.no_grad():
            return encoders.poster(batch).numpy()

    report = (lambda done, total: progress("posters", done, total)) if progress else None
    return cached_features(cache, keys, compute, progress=report)


def overview_features(
    texts: Sequence[str], encoders: Encoders, cache: FeatureCache, progress: Progress | None
) -> np.ndarray:
    keys = [content_key(text) for text in texts]
    tokenizer = encoders.tokenizer()

    def compute(indices: list[int]) -> np.ndarray:
        ids, mask = tokenizer([texts[i] for i in indices])
        with torch.no_grad():
            return encoders.overview(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

    report = (lambda done, total: progress("overviews", done, total)) if progress else None
    return cached_features(cache, keys, compute, progress=report)


def _scatter(rows: np.ndarray, present: np.ndarray, dim: int) -> np.ndarray:
    full = np.zeros((len(present), dim), dtype=np.float32)
    if len(rows):
        full[present] = rows
    return full
