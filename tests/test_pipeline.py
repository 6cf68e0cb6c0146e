"""The whole path on the Kaggle fixture with tiny random backbones: train → version folder →
ONNX Runtime serving → evaluation → CLI. Real code everywhere; only the backbones are tiny."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mmgui.__main__ import main
from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.nets.genre_model import CalibratedHead, GenreHead, HeadConfig
from mmgui.serve.evaluate import evaluate_version
from mmgui.serve.predictor import GenrePredictor, PredictInput
from mmgui.training.train import train_version
from mmgui.versions import read_card
from tests.conftest import KAGGLE_FIXTURE, TINY_CONFIG

POSTER = KAGGLE_FIXTURE / "posters" / "tt0112817.jpg"
OVERVIEW = "A lonely detective hunts a serial killer through the rain-soaked city at night."


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMGUI_CACHE_DIR", str(root / "cache"))
        return train_version(
            KAGGLE_FIXTURE,
            str(TINY_CONFIG),
            root / "models" / "tiny",
            Settings.load(),
            log=lambda _: None,
        )


@pytest.fixture
def predictor(version: Path) -> GenrePredictor:
    return GenrePredictor(version, Settings.load(cache_dir=version.parent.parent / "cache"))


def test_the_version_folder_holds_what_model_json_promises(version: Path) -> None:
    card = read_card(version)
    assert sorted(p.name for p in version.iterdir()) == [
        "head.onnx",
        "head.safetensors",
        "model.json",
    ]
    assert card.genres == GENRES
    assert set(card.thresholds) == set(GENRES)
    assert card.head is not None and card.head["fusion"] == "gated"
    assert card.data is not None
    assert (card.data.n_train, card.data.n_val, card.data.n_test) == (9, 3, 2)
    assert card.data.fingerprint is not None and len(card.data.fingerprint) == 64
    assert card.export is not None and card.export["onnx_max_abs_diff"] <= 1e-4
    assert card.test_metrics["n_items"] == 2
    assert card.backbones is not None and card.backbones.poster.name == "tiny-cnn-pyramid"
    assert not list(version.parent.glob(".*"))  # no staging folder left behind


def test_predict_returns_all_genres_and_thresholded_tags(predictor: GenrePredictor) -> None:
    prediction = predictor.predict(POSTER, OVERVIEW, "Night City")
    assert list(prediction.genre_probs) == list(GENRES)
    assert all(0.0 < p < 1.0 for p in prediction.genre_probs.values())
    expected = [g for g in GENRES if prediction.genre_probs[g] >= predictor.card.thresholds[g]]
    assert sorted(prediction.tags) == sorted(expected)
    assert prediction.modalities == ("poster", "overview")
    assert prediction.model_version == "tiny"


def test_any_single_modality_predicts(predictor: GenrePredictor) -> None:
    poster_only = predictor.predict(poster=POSTER)
    text_only = predictor.predict(overview=OVERVIEW)
    assert poster_only.modalities == ("poster",) and text_only.modalities == ("overview",)
    assert poster_only.genre_probs != text_only.genre_probs


def test_nothing_to_predict_from_is_a_clear_error(predictor: GenrePredictor) -> None:
    with pytest.raises(MmguiError, match="nothing to predict from"):
        predictor.predict(None, "   ", "")


def test_a_corrupt_upload_is_a_clear_error(predictor: GenrePredictor) -> None:
    with pytest.raises(MmguiError, match="uploaded image"):
        predictor.predict(b"this is not an image", OVERVIEW)


def test_onnx_head_serves_the_same_weights_as_the_torch_copy(
    version: Path, predictor: GenrePredictor
) -> None:
    card = read_card(version)
    assert card.head is not None
    head = GenreHead(HeadConfig.from_dict(dict(card.head)))
    head.load_state_dict(load_file(version / "head.safetensors"))
    calibrated = CalibratedHead(head, card.temperature).eval()
    rng = np.random.default_rng(0)
    posters = [rng.normal(size=(3, 48, 32)).astype(np.float32), None]
    texts = ["a comedy about a wedding", "a war film"]
    served = predictor.engine.genre_probs(posters, texts)
    features = (
        torch.from_numpy(predictor.engine.poster_features(posters)),
        torch.from_numpy(predictor.engine.overview_features(texts)),
        torch.tensor([1.0, 0.0]),
        torch.tensor([1.0, 1.0]),
    )
    with torch.no_grad():
        expected = calibrated(*features).numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_batch_scoring_equals_one_by_one(predictor: GenrePredictor) -> None:
    items = [PredictInput(POSTER, OVERVIEW), PredictInput(None, "A musical romance", "Songs")]
    batch = predictor.predict_many(items)
    single = [predictor.predict(i.poster, i.overview, i.title) for i in items]
    for a, b in zip(batch, single, strict=True):
        np.testing.assert_allclose(
            list(a.genre_probs.values()), list(b.genre_probs.values()), atol=1e-5
        )


def test_evaluate_reports_every_metric(predictor: GenrePredictor) -> None:
    result = evaluate_version(predictor, KAGGLE_FIXTURE, "all", ("poster", "overview"))
    for key in (
        "macro_roc_auc",
        "micro_ap",
        "macro_ap",
        "micro_f1",
        "macro_f1",
        "samples_f1",
        "hamming_loss",
        "macro_roc_auc_supported",
        "genres_scored",
        "per_genre",
        "at_0.5",
    ):
        assert key in result
    assert result["n_items"] == 15
    assert result["modalities"] == ["poster", "overview"]
    assert set(result["genres_scored"]) <= set(GENRES)


def test_cli_predict_and_evaluate_print_json(version: Path, capsys: pytest.CaptureFixture) -> None:
    cache = ["--cache-dir", str(version.parent.parent / "cache")]
    assert (
        main(
            [
                *cache,
                "predict",
                "--model",
                str(version),
                "--poster",
                str(POSTER),
                "--overview",
                OVERVIEW,
                "--json",
            ]
        )
        == 0
    )
    prediction = json.loads(capsys.readouterr().out)
    assert len(prediction["genre_probs"]) == 18 and prediction["model_version"] == "tiny"
    assert (
        main(
            [
                *cache,
                "evaluate",
                "--model",
                str(version),
                "--data",
                str(KAGGLE_FIXTURE),
                "--split",
                "test",
                "--modalities",
                "overview",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["n_items"] == 2 and result["modalities"] == ["overview"]


def test_cli_user_errors_exit_2_with_a_message(
    version: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["predict", "--model", str(version.parent / "missing")]) == 2
    assert "model.json is missing" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(version),
                "--data",
                str(KAGGLE_FIXTURE),
                "--modalities",
                "audio",
            ]
        )
        == 2
    )
    assert "--modalities" in capsys.readouterr().err


def test_training_refuses_to_overwrite_a_version(version: Path) -> None:
    with pytest.raises(MmguiError, match="already exists"):
        train_version(
            KAGGLE_FIXTURE, str(TINY_CONFIG), version, Settings.load(), log=lambda _: None
        )


def test_the_sources_baseline_trains_exports_and_serves(tmp_path: Path, cache_dir: Path) -> None:
    config = TINY_CONFIG.with_name("tiny-baseline.json")
    out = train_version(
        KAGGLE_FIXTURE, str(config), tmp_path / "baseline", Settings.load(), log=lambda _: None
    )
    card = read_card(out)
    assert card.kind == "baseline" and card.inputs is not None
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.onnx", "vocab.json"]
    assert card.export is not None and card.export["onnx_max_abs_diff"] <= 1e-4
    predictor = GenrePredictor(out, Settings.load())
    both = predictor.predict(POSTER, OVERVIEW, "Night City")
    text_only = predictor.predict(overview=OVERVIEW)
    assert len(both.genre_probs) == 18 and both.model_version == "baseline"
    assert both.genre_probs != text_only.genre_probs
