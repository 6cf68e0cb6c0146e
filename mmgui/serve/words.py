"""Word weights: which words of an overview pushed a genre up or down, by occlusion.

Each of the overview's first `Settings.explain_max_words` words is left out in turn and the
item re-scored through the served ONNX text branch and head (the poster, when given, is
encoded once and held fixed). A word's weight is the drop in the genre's probability without
it: positive words support the genre, negative ones speak against it. Longer overviews are
explained on their first words only: every word scored costs one encoder pass over the text,
so the cap is what keeps an explanation within a second or so on a laptop CPU. The occluded
texts go through the encoder in a few batches and the head in one run; the numbers are those
of scoring each text on its own.
"""

from __future__ import annotations

import numpy as np

from mmgui.data.image import ImageSource
from mmgui.data.item import prepare_poster
from mmgui.data.text import encoder_text
from mmgui.errors import MmguiError
from mmgui.genres import GENRE_INDEX
from mmgui.serve.predictor import GenrePredictor, HeadEngine

# Occluded texts per encoder run: larger batches gain little on a CPU and cost memory.
ENCODER_BATCH = 32


def word_weights(
    predictor: GenrePredictor,
    overview: str,
    genre: str,
    title: str | None = None,
    poster: ImageSource | None = None,
    max_words: int | None = None,
) -> list[tuple[str, float]]:
    """(word, probability drop without it) for the first `max_words` words of the overview
    (default `Settings.explain_max_words`); fewer pairs than words means the rest was not
    scored."""
    engine = _head_engine(predictor, genre)
    limit = predictor.settings.explain_max_words if max_words is None else max_words
    words = (overview or "").split()[:limit]
    if not words:
        raise MmguiError("the overview is empty: there are no words to weigh")
    texts = _occluded_texts(words, title)
    overview_features = np.concatenate(
        [
            engine.overview_features(texts[start : start + ENCODER_BATCH])
            for start in range(0, len(texts), ENCODER_BATCH)
        ]
    )
    count = len(texts)
    poster_features = _poster_features(predictor, engine, poster, count)
    present_text = np.array([bool(t) for t in texts])
    probs = engine.head_probs(
        poster_features, overview_features, np.full(count, poster is not None), present_text
    )[:, GENRE_INDEX[genre]]
    return [(word, float(probs[0] - probs[i + 1])) for i, word in enumerate(words)]


def _occluded_texts(words: list[str], title: str | None) -> list[str]:
    """The encoder texts: all `words` first, then each with one word left out ("" when nothing
    is left, which the head reads as no overview)."""
    texts = [encoder_text(" ".join(words), title).text]
    for i in range(len(words)):
        rest = " ".join(words[:i] + words[i + 1 :])
        texts.append(encoder_text(rest, title).text if rest or title else "")
    return texts


def _head_engine(predictor: GenrePredictor, genre: str) -> HeadEngine:
    engine = predictor.engine
    if not isinstance(engine, HeadEngine):
        raise MmguiError(
            f"model {predictor.name} has no word explanations (kind {predictor.card.kind.value})"
        )
    if genre not in GENRE_INDEX:
        raise MmguiError(f"unknown genre {genre!r}")
    return engine


def _poster_features(
    predictor: GenrePredictor, engine: HeadEngine, poster: ImageSource | None, count: int
) -> np.ndarray:
    if poster is None:
        return np.zeros((count, engine.poster_dim), dtype=np.float32)
    image = prepare_poster(poster, engine.poster_size, predictor.settings)
    features = engine.poster_features([image])
    return np.repeat(features, count, axis=0)
