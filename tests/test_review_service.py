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
    assert len(tasks) == 16 and tasks[0]["predictions"][0]["model_version"] == "default"
    assert tasks[0]["annotations"][0]["completed_by"] == {"username": "source"}
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name\nAlpha\n")
    done = run_cli(*cache, "import", "--csv", str(wrong), *common, *models, cwd=tmp_path)
    assert done.returncode == 2 and "needs at least one of title" in done.stderr


def test_a_catalogue_naming_the_database_loses_no_later_decision(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default database sits in the working directory, beside the catalogue: a poster
    path `mmgui.db` must not be opened (that drops this process's POSIX locks on it, the next
    outside reader then deletes the WAL, and later saves go into a deleted file). Three saves,
    each followed by an outside reader; then a fresh process (a restart) counts them."""
    monkeypatch.chdir(tmp_path)
    poster = next((KAGGLE_FIXTURE / "posters").glob("*.jpg"))
    (tmp_path / "poster.jpg").write_bytes(poster.read_bytes())
    rows = [
        "id,title,poster",
        "p1,x,mmgui.db",
        f"p2,y,{tmp_path / 'mmgui.db'}",
        "p3,z,mmgui.db-wal",
    ]
    rows += [f"ok{i},Film {i},poster.jpg" for i in range(3)]
    (tmp_path / "catalogue.csv").write_text("\n".join(rows) + "\n")
    settings = Settings.load(
        models_dir=tiny_models, cache_dir=tiny_models.parent / "cache",
        db_url="sqlite:///mmgui.db", media_dir=tmp_path / "media",
    )  # fmt: skip
    review = ReviewService.open(Studio(settings))
    review.import_catalogue(Path("catalogue.csv"))  # the first import creates the WAL
    summary = review.import_catalogue(Path("catalogue.csv"))
    assert {b.where for b in summary.bad} == {"p1", "p2", "p3"}
    for entry in review.store.queue(limit=3):
        item = review.item(entry.id)
        review.store.decide(item.id, "ana", ["Drama"], item.version)
        assert outside_count(tmp_path / "mmgui.db") >= 0  # a worker, `mmgui export`, sqlite3
    assert outside_count(tmp_path / "mmgui.db") == 3


def outside_count(database: Path) -> int:
    """Decisions as another process sees them (it opens and closes the database)."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute('SELECT count(*) FROM decisions').fetchone()[0]); c.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(database)], capture_output=True, text=True, check=True
    )
    return int(done.stdout)
