"""Genre predictions with ONNX Runtime: what the studio, the CLI and the benchmarks call.

A `GenrePredictor` serves one model version folder: poster and overview backbones (graphs from
the cache, see `serve.backbones`) and the version's head. No torch is imported once the
backbone graphs exist. Every prediction carries the version that made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmgui.config import Settings
from mmgui.data.image import ImageSource
from mmgui.data.item import PreparedItem, prepare_item
from mmgui.data.text import SubwordTokenizer
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.backbones import version_backbones
from mmgui.versions import ModelKind, VersionCard, onnx_session, read_card


@dataclass(frozen=True)
class PredictInput:
    """One item to tag; any non-empty subset of the three fields."""

    poster: ImageSource | None = None
    overview: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Prediction:
    genre_probs: dict[str, float]  # all 18 genres, calibrated probabilities
    tags: list[str]  # genres at or above their stored thresholds, most probable first
    model_version: str
    modalities: tuple[str, ...]  # what the prediction used: "poster", "overview"
    notices: tuple[str, ...] = field(default=())


class HeadEngine:
    """Frozen backbone graphs (from the cache) + the version's head graph."""

    def __init__(self, version_dir: Path, card: VersionCard, settings: Settings) -> None:
        backbones = card.backbones
        if backbones is None:
            raise MmguiError(f"{version_dir}: a head version's card names no backbones")
        self.poster_size: tuple[int, int] = backbones.poster_size
        self.poster_dim: int = backbones.poster.dim
        self.overview_dim: int = backbones.overview.dim
        graphs = version_backbones(version_dir, backbones, settings.cache_dir)
        self._poster = onnx_session(graphs / "poster.onnx", settings.threads)
        self._overview = onnx_session(graphs / "overview.onnx", settings.threads)
        self._head = onnx_session(version_dir / "head.onnx", settings.threads)
        self.tokenizer = SubwordTokenizer(graphs / "tokenizer.json", backbones.max_tokens)

    def genre_probs(
        self, posters: Sequence[np.ndarray | None], texts: Sequence[str | None]
    ) -> np.ndarray:
        return self.head_probs(
            self.poster_features(posters),
            self.overview_features(texts),
            _present(posters),
            _present(texts),
        )

    def head_probs(
        self,
        poster_features: np.ndarray,
        overview_features: np.ndarray,
        poster_present: np.ndarray,
        overview_present: np.ndarray,
    ) -> np.ndarray:
        """(N, 18) probabilities from backbone features (explanations reuse features)."""
        feeds = {
            "poster_features": poster_features,
            "overview_features": overview_features,
            "poster_present": poster_present.astype(np.float32),
            "overview_present": overview_present.astype(np.float32),
        }
        return self._head.run(["genre_probs"], feeds)[0]

    def poster_features(self, posters: Sequence[np.ndarray | None]) -> np.ndarray:
        features = np.zeros((len(posters), self.poster_dim), dtype=np.float32)
        rows = [i for i, p in enumerate(posters) if p is not None]
        if rows:
            batch = np.stack([posters[i] for i in rows])
            features[rows] = self._poster.run(["poster_features"], {"images": batch})[0]
        return features

    def overview_features(self, texts: Sequence[str | None]) -> np.ndarray:
        features = np.zeros((len(texts), self.overview_dim), dtype=np.float32)
        rows = [i for i, t in enumerate(texts) if t is not None]
        if rows:
            ids, mask = self.tokenizer([texts[i] for i in rows])
            feeds = {"input_ids": ids, "attention_mask": mask}
            features[rows] = self._overview.run(["overview_features"], feeds)[0]
        return features


class BaselineEngine:
    """The sources' CNN + LSTM baseline: one graph over the poster and cleaned overview tokens."""

    def __init__(self, version_dir: Path, card: VersionCard, settings: Settings) -> None:
        from mmgui.data.text import Vocabulary, clean_overview

        if card.inputs is None:
            raise MmguiError(f"{version_dir}: a baseline version's card names no inputs")
        self._clean = clean_overview
        self.poster_size: tuple[int, int] = card.inputs.poster_size
        self.max_len: int = card.inputs.max_len
        self.vocab = Vocabulary.from_json((version_dir / "vocab.json").read_text())
        self._model = onnx_session(version_dir / "model.onnx", settings.threads)

    def genre_probs(
        self, posters: Sequence[np.ndarray | None], texts: Sequence[str | None]
    ) -> np.ndarray:
        width, height = self.poster_size
        blank = np.zeros((3, height, width), dtype=np.float32)
        feeds = {
            "images": np.stack([blank if p is None else p for p in posters]),
            "token_ids": np.array(
                [self.vocab.encode(self._clean(t or ""), self.max_len) for t in texts],
                dtype=np.int64,
            ),
            "poster_present": _present(posters),
            "overview_present": _present(texts),
        }
        return self._model.run(["genre_probs"], feeds)[0]


ENGINES = {ModelKind.HEAD: HeadEngine, ModelKind.BASELINE: BaselineEngine}


def _present(values: Sequence[object | None]) -> np.ndarray:
    return np.array([v is not None for v in values], dtype=np.float32)


class GenrePredictor:
    """Serves one model version with ONNX Runtime, whatever its kind."""

    def __init__(self, version: Path, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.load()
        self.version_dir = Path(version)
        self.card = read_card(self.version_dir)
        self.name: str = self.card.name
        self.thresholds = np.array([self.card.thresholds[g] for g in GENRES], dtype=np.float32)
        if self.card.kind not in ENGINES:
            raise MmguiError(f"{version}: a {self.card.kind} version does not tag genres")
        self.engine = ENGINES[self.card.kind](self.version_dir, self.card, self.settings)

    def predict(
        self,
        poster: ImageSource | None = None,
        overview: str | None = None,
        title: str | None = None,
    ) -> Prediction:
        """Tag one item; raises `MmguiError` for unreadable or missing input."""
        return self.predict_many([PredictInput(poster, overview, title)])[0]

    def predict_many(self, items: Sequence[PredictInput]) -> list[Prediction]:
        """Tag a batch of items in one pass of each graph (catalogue scoring)."""
        if not items:
            return []
        size = self.engine.poster_size
        prepared = [prepare_item(i.poster, i.overview, i.title, size, self.settings) for i in items]
        probs = self.engine.genre_probs([p.poster for p in prepared], [p.text for p in prepared])
        return [self._prediction(row, item) for row, item in zip(probs, prepared, strict=True)]

    def _prediction(self, probs: np.ndarray, item: PreparedItem) -> Prediction:
        order = np.argsort(-probs)
        return Prediction(
            genre_probs={g: float(p) for g, p in zip(GENRES, probs, strict=True)},
            tags=[GENRES[g] for g in order if probs[g] >= self.thresholds[g]],
            model_version=self.name,
            modalities=item.modalities,
            notices=item.notices,
        )
