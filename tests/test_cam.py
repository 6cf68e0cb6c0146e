"""Grad-CAM on the torch copy of a tiny version trained on the fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve.cam import genre_cams
from mmgui.serve.cam_methods import CAM_METHODS
from mmgui.serve.explain import explain
from mmgui.serve.predictor import GenrePredictor
from mmgui.serve.torch_model import load_torch_genre_model
from mmgui.training.train import train_version
from tests.conftest import KAGGLE_FIXTURE, TINY_CONFIG

POSTER = KAGGLE_FIXTURE / "posters" / "tt0112817.jpg"
OVERVIEW = "A detective hunts a killer through the city."
GENRES = ["Crime", "Comedy", "Horror"]


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cam")
    return train_version(
        KAGGLE_FIXTURE,
        str(TINY_CONFIG),
        root / "tiny",
        Settings.load(cache_dir=root / "cache"),
        log=lambda _: None,
    )


@pytest.mark.parametrize("method", sorted(CAM_METHODS))
def test_one_map_per_genre_at_the_poster_size(version: Path, method: str) -> None:
    copy = load_torch_genre_model(version, Settings.load())
    cams = genre_cams(copy, POSTER, GENRES, OVERVIEW, method=method)
    assert [c.genre for c in cams] == GENRES
    for cam in cams:
        assert cam.heatmap.shape == (48, 32)  # the tiny config's poster size (H, W)
        assert cam.heatmap.min() >= 0.0 and cam.heatmap.max() <= 1.0 + 1e-6
        assert cam.overlay.shape == (48, 32, 3) and cam.overlay.dtype == np.uint8


def test_cam_probabilities_are_the_served_ones(version: Path) -> None:
    cams = genre_cams(load_torch_genre_model(version, Settings.load()), POSTER, GENRES, OVERVIEW)
    served = GenrePredictor(version, Settings.load(cache_dir=version.parent / "cache")).predict(
        POSTER, OVERVIEW
    )
    for cam in cams:
        assert cam.probability == pytest.approx(served.genre_probs[cam.genre], abs=1e-4)


def test_bad_requests_are_user_errors(version: Path) -> None:
    copy = load_torch_genre_model(version, Settings.load())
    with pytest.raises(MmguiError, match="unknown CAM method"):
        genre_cams(copy, POSTER, GENRES, method="lime")
    with pytest.raises(MmguiError, match="unknown genre"):
        genre_cams(copy, POSTER, ["Sports"])
    assert genre_cams(copy, POSTER, []) == []


def test_gradcam_is_class_discriminative_and_eigencam_is_not(version: Path) -> None:
    copy = load_torch_genre_model(version, Settings.load())
    grad = genre_cams(copy, POSTER, GENRES, OVERVIEW, method="gradcam")
    eigen = genre_cams(copy, POSTER, GENRES, OVERVIEW, method="eigencam")
    assert not np.allclose(grad[0].heatmap, grad[1].heatmap)
    np.testing.assert_allclose(eigen[0].heatmap, eigen[1].heatmap, atol=1e-6)


def test_studio_explain_picks_the_tags_adds_picked_genres_and_scales_words(version: Path) -> None:
    from mmgui.serve.studio import Studio

    settings = Settings.load(
        models_dir=version.parent, default_model=version.name, cache_dir=version.parent / "cache"
    )
    studio = Studio(settings)
    explanation = explain(studio, POSTER, OVERVIEW, None, "gradcam", ["Western"])
    prediction = studio.predict(POSTER, OVERVIEW, None)
    expected = (prediction.tags[: settings.cam_genres] or [explanation.top_genre]) + ["Western"]
    assert [c.genre for c in explanation.cams] == list(dict.fromkeys(expected))
    assert [w for w, _ in explanation.words] == OVERVIEW.split()
    assert max(abs(s) for _, s in explanation.words) == pytest.approx(1.0)
    text_only = explain(studio, None, OVERVIEW, None)
    assert text_only.cams == [] and len(text_only.words) == len(OVERVIEW.split())
