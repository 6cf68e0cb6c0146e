"""Word weights by occlusion: batched as scored one text at a time, and capped in words."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mmgui.config import Settings
from mmgui.data.image import load_image, preprocess
from mmgui.data.text import encoder_text
from mmgui.genres import GENRE_INDEX
from mmgui.serve.explain import explain, poster_cams
from mmgui.serve.predictor import GenrePredictor
from mmgui.serve.studio import Studio
from mmgui.serve.words import word_weights
from tests.conftest import KAGGLE_FIXTURE

POSTER = KAGGLE_FIXTURE / "posters" / "tt0112817.jpg"
OVERVIEW = "A retired detective hunts a killer through the rain-soaked city at night."


@pytest.fixture(scope="module")
def settings(tiny_models: Path) -> Settings:
    return Settings.load(models_dir=tiny_models, cache_dir=tiny_models.parent / "cache")


@pytest.fixture(scope="module")
def predictor(settings: Settings) -> GenrePredictor:
    return GenrePredictor(settings.default_model_dir, settings)


def _one_at_a_time(predictor: GenrePredictor, words: list[str], genre: str) -> list[float]:
    """The method spelled out: the whole text, then each word left out, each text through the
    encoder and the head on its own."""
    engine = predictor.engine
    image = preprocess(load_image(POSTER), engine.poster_size)
    poster_features = engine.poster_features([image])
    texts = [" ".join(words)] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    probs = []
    for text in (encoder_text(t, "Night").text for t in texts):
        row = engine.head_probs(
            poster_features,
            engine.overview_features([text]),
            np.ones(1),
            np.array([bool(text)]),
        )
        probs.append(float(row[0, GENRE_INDEX[genre]]))
    return [probs[0] - p for p in probs[1:]]


@pytest.mark.parametrize("genre", ["Crime", "Comedy"])
def test_batched_weights_are_the_one_at_a_time_numbers(
    predictor: GenrePredictor, genre: str
) -> None:
    weights = word_weights(predictor, OVERVIEW, genre, "Night", POSTER)
    assert [word for word, _ in weights] == OVERVIEW.split()
    expected = _one_at_a_time(predictor, OVERVIEW.split(), genre)
    np.testing.assert_allclose([w for _, w in weights], expected, rtol=0, atol=1e-6)
    assert any(abs(w) > 1e-4 for w in expected)  # the comparison is not of zeros


def test_only_the_first_words_are_scored_and_encoded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    capped = Settings.load(
        models_dir=settings.models_dir, cache_dir=settings.cache_dir, explain_max_words=4
    )
    predictor = GenrePredictor(capped.default_model_dir, capped)
    encoded: list[str] = []
    encode = predictor.engine.overview_features
    monkeypatch.setattr(
        predictor.engine, "overview_features", lambda texts: encoded.extend(texts) or encode(texts)
    )
    weights = word_weights(predictor, OVERVIEW, "Crime", "Night")
    assert [word for word, _ in weights] == OVERVIEW.split()[:4]
    assert len(encoded) == 5  # the four words, then each of them left out


def test_the_explanation_says_when_words_were_left_unscored(settings: Settings) -> None:
    studio = Studio(
        Settings.load(
            models_dir=settings.models_dir, cache_dir=settings.cache_dir, explain_max_words=4
        )
    )
    explanation = explain(studio, None, OVERVIEW, "Night")
    assert [word for word, _ in explanation.words] == OVERVIEW.split()[:4]
    total = len(OVERVIEW.split())
    assert explanation.notices == (
        f"word weights: only the overview's first 4 of {total} words were scored, "
        "as a text of their own",
    )
    assert explain(Studio(settings), None, OVERVIEW, "Night").notices == ()


def test_grad_cam_requests_take_turns(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import mmgui.serve.cam

    studio = Studio(settings)
    studio.load()
    studio._torch_copy = object()  # the fake below never touches it
    running, most = [], []

    def overlapping_cams(*_args: object, **_kwargs: object) -> list:
        running.append(1)
        most.append(len(running))
        time.sleep(0.2)  # room for a second request to come in, were it let
        running.pop()
        return []

    monkeypatch.setattr(mmgui.serve.cam, "genre_cams", overlapping_cams)
    threads = [
        threading.Thread(target=poster_cams, args=(studio, POSTER, None, None, ["Crime"]))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == [1, 1]
