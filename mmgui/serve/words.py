"""Word weights: which words of an overview pushed a genre up or down, by occlusion.

Each overview word is left out in turn and the item re-scored through the served ONNX text
branch and head (the poster, when given, is encoded once and held fixed). A word's weight is
the drop in the genre's probability without it: positive words support the genre, negative
ones speak against it. All occluded texts go through the encoder as one batch.
"""

from __future__ import annotations

import numpy as np

from mmgui.data.image import ImageSource, load_image, preprocess
from mmgui.data.text import encoder_text
from mmgui.errors import MmguiError
from mmgui.genres import GENRE_INDEX
from mmgui.serve.predictor import GenrePredictor, HeadEngine

MAX_WORDS = 150


def word_weights(
    predictor: GenrePredictor,
    overview: str,
    genre: str,
    title: str | None = None,
    poster: ImageSource | None = None,
    max_words: int = MAX_WORDS,
) -> list[tuple[str, float]]:
    """(word, probability drop without it) for the first `max_words` words of the overview."""
    engine = predictor.engine
    if not isinstance(engine, HeadEngine):
        raise MmguiError(
            f"model {predictor.name} has no word explanations (kind {predictor.meta['kind']})"
        )
    if genre not in GENRE_INDEX:
        raise MmguiError(f"unknown genre {genre!r}")
    words = (overview or "").split()[:max_words]
    if not words:
        raise MmguiError("the overview is empty: there are no words to weigh")
    texts = [encoder_text(" ".join(words), title).text]
    for i in range(len(words)):
        rest = " ".join(words[:i] + words[i + 1 :])
        texts.append(encoder_text(rest, title).text if rest or title else "")
    overview_features = np.concatenate(
        [engine.overview_features(texts[s : s + 32]) for s in range(0, len(texts), 32)]
    )
    count = len(texts)
    if poster is None:
        poster_features = np.zeros((count, engine.poster_dim), dtype=np.float32)
    else:
        image = preprocess(
            load_image(poster, predictor.settings.max_image_pixels), engine.poster_size
        )
        poster_features = np.repeat(engine.poster_features([image]), count, axis=0)
    present_text = np.array([bool(t) for t in texts])
    probs = engine.head_probs(
        poster_features, overview_features, np.full(count, poster is not None), present_text
    )[:, GENRE_INDEX[genre]]
    return [(word, float(probs[0] - probs[i + 1])) for i, word in enumerate(words)]
