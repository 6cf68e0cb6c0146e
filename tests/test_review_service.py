"""The queue with the model in the loop: import predicts, re-import does not, the CLI forms."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmgui.config import Settings
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio

from .conftest import KAGGLE_FIXTURE


@pytest.fixture
def review(tiny_models: Path, db_url: str, tmp_path: Path) -> ReviewService:
    settings = Settings.load(
        models_dir=tiny_models,
        cache_dir=tiny_models.parent / "cache",
        db_url=db_url,
        media_dir=tmp_path / "media",
    )
    return ReviewService.open(Studio(settings))


def test_import_predicts_new_items_and_reimport_is_idempotent(review: ReviewService) -> None:
    seen: list[tuple[int, int]] = []
    summary = review.import_catalogue(KAGGLE_FIXTURE, progress=lambda d, t: seen.append((d, t)))
    assert (summary.new, summary.changed, summary.predicted) == (16, 0, 16)
    assert summary.model_version == "default" and seen[-1] == (16, 16)
    assert {b.reason for b in summary.bad} >= {"bad imdb_id", "duplicate imdb_id (first kept)"}
    again = review.import_catalogue(KAGGLE_FIXTURE)
    assert (again.new, again.unchanged, again.predicted) == (0, 16, 0)
    entry = review.store.queue()[0]
    item = review.item(entry.id)
    assert item.model_version == "default" and len(item.genre_probs) == 18
    assert item.original_labels and item.labels == item.original_labels  # not yet reviewed
    assert item.poster is not None and item.poster.is_file()
    # the served model's probabilities, recorded as they were
    prediction = review.studio.predict(item.poster, item.overview, item.title)
    assert item.genre_probs == pytest.approx(prediction.genre_probs, abs=1e-5)
    actions = [e.action for e in review.store.audit_log()]
    assert actions == ["import", "import"]


def test_cams_of_the_next_item_are_ready_ahead(review: ReviewService) -> None:
    review.import_catalogue(KAGGLE_FIXTURE)
    _, second = review.store.queue(limit=2)
    review.prefetch(second.id)
    item = review.item(second.id)
    cams = review.cams(item)
    assert cams and cams[0].overlay.shape[2] == 3
    assert review.cams(item) is cams  # computed once


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, "-m", "mmgui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def test_cli_import_and_export(tiny_models: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    common = ["--db", db, "--media", str(tmp_path / "media")]
    models = ["--models", str(tiny_models)]
    cache = ["--cache-dir", str(tiny_models.parent / "cache")]
    done = run_cli(*cache, "import", "--kaggle", str(KAGGLE_FIXTURE), *common, *models,
                   "--json-summary", "--quiet", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["new"] == 16 and summary["bad_rows"] == 7
    out = tmp_path / "labels.json"
    done = run_cli(*cache, "export", "--format", "labelstudio", "--out", str(out), *common,
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    tasks = json.loads(out.read_text())
    assert len(tasks) == 16 and tasks[0]["predictions"][-1]["model_version"] == "default"
    assert not any("annotations" in t for t in tasks)  # nothing reviewed: all to do
    assert tasks[0]["predictions"][0]["model_version"] == "source"
    assert tasks[0]["data"]["image"].startswith("/data/local-files/?d=media/posters/")
    done = run_cli(*cache, "import", "--json", str(out), *common, *models, "--json-summary",
                   cwd=tmp_path)  # fmt: skip
    again = json.loads(done.stdout)  # its own export: posters found under the default root
    assert (again["unchanged"], again["bad_rows"], again["notices"]) == (16, 0, [])
    (tmp_path / "none.json").write_text(json.dumps([{"id": 1, "data": {}}]))
    done = run_cli(*cache, "import", "--json", str(tmp_path / "none.json"), *common, *models,
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "nothing was imported" in done.stderr
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name\nAlpha\n")
    done = run_cli(*cache, "import", "--csv", str(wrong), *common, *models, cwd=tmp_path)
    assert done.returncode == 2 and "needs at least one of title" in done.stderr
