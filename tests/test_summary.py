"""The served version in plain words: what the Predict tab's model line says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mmgui.config import Settings
from mmgui.serve.studio import Studio
from mmgui.serve.summary import version_figures, version_summary
from mmgui.versions import VersionCard, read_card

DEFAULT_JSON = Path(__file__).resolve().parent.parent / "models" / "default" / "model.json"


def test_the_shipped_default_in_words() -> None:
    card = read_card(DEFAULT_JSON.parent)
    words = version_summary(card)
    test = json.loads(DEFAULT_JSON.read_text())["metrics"]["test"]
    assert words.startswith("Serving **default**: trained on 5,271 movies")
    assert f"On {test['n_items']:,} movies it never saw" in words
    assert f"{test['macro_roc_auc']:.0%} of the time" in words
    assert f"{test['micro_precision']:.0%} of its tags are right" in words
    figures = version_figures(card)
    assert figures["test"]["macro_roc_auc"] == test["macro_roc_auc"]
    assert "per_genre" not in figures["test"]  # figures only, not the nested tables


def test_a_finetuned_version_names_its_parent_and_corrections() -> None:
    card = VersionCard.from_json(
        {
            "name": "v0003",
            "kind": "head",
            "genres": [],
            "thresholds": {},
            "temperature": 1.0,
            "parent": "default",
            "created_at": "2026-12-02T10:02:00+00:00",
            "finetune": {"n_corrections": 240},
            "metrics": {"test": {}},
        }
    )
    words = version_summary(card)
    assert words.startswith("Serving **v0003**: default retrained on 240 editor corrections")
    assert "2 Dec 2026, 10:02 UTC" in words and "no held-out figures yet" in words


def test_the_line_follows_the_served_version(tiny_models: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    other = models / "v0001"
    shutil.copytree(models / "default", other)
    meta = json.loads((other / "model.json").read_text())
    meta["name"] = "v0001"
    (other / "model.json").write_text(json.dumps(meta))
    studio = Studio(Settings.load(models_dir=models, cache_dir=tiny_models.parent / "cache"))
    assert version_summary(studio.predictor.card).startswith("Serving **default**")
    studio.use_version(other)
    assert version_summary(studio.predictor.card).startswith("Serving **v0001**")
