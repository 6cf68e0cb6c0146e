"""The queue with the model in the loop: import predicts, re-import does not, the CLI forms."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmgui.config import Settings
from mmgui.errors import MmguiError
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
    summary = review.catalogue.import_catalogue(
        KAGGLE_FIXTURE, progress=lambda d, t: seen.append((d, t))
    )
    assert (summary.new, summary.changed, summary.predicted) == (16, 0, 16)
    assert summary.model_version == "default" and seen[-1] == (16, 16)
    assert {b.reason for b in summary.bad} >= {"bad imdb_id", "duplicate imdb_id (first kept)"}
    again = review.catalogue.import_catalogue(KAGGLE_FIXTURE)
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
    review.catalogue.import_catalogue(KAGGLE_FIXTURE)
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
    review.catalogue.import_catalogue(Path("catalogue.csv"))  # the first import creates the WAL
    summary = review.catalogue.import_catalogue(Path("catalogue.csv"))
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


KILLED_IMPORT = """
import sys, time
from pathlib import Path
from mmgui.config import Settings
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio

models, cache, db, media, source = sys.argv[1:]
settings = Settings.load(
    models_dir=models, cache_dir=cache, db_url=db, media_dir=media, import_batch_size=4
)
review = ReviewService.open(Studio(settings))


def progress(done, total):
    print(done, flush=True)  # the first batch is committed: the parent kills us here
    time.sleep(600)


review.catalogue.import_catalogue(Path(source), progress=progress)
"""


def test_an_import_killed_mid_prediction_is_finished_by_the_next(
    review: ReviewService, tmp_path: Path
) -> None:
    """A real SIGKILL after the first batch of 4 predictions: the re-import predicts the 12
    left (it used to say "16 unchanged, 0 predicted" and leave them unpredicted for good)."""
    import signal

    settings = review.studio.settings
    if not settings.db_url.startswith("sqlite"):
        pytest.skip("one backend is enough for the subprocess")
    root = Path(__file__).resolve().parent.parent
    args = [str(settings.models_dir), str(settings.cache_dir), settings.db_url]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_IMPORT, *args, str(settings.media_dir), str(KAGGLE_FIXTURE)],
        stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "4"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    from mmgui.store.catalogue import unpredicted_items

    assert len(unpredicted_items(review.store)) == 12
    again = review.catalogue.import_catalogue(KAGGLE_FIXTURE)
    assert (again.new, again.unchanged, again.predicted) == (0, 16, 12)
    assert unpredicted_items(review.store) == []
    assert all(review.item(e.id).genre_probs for e in review.store.queue(status="all"))


def test_recover_predicts_what_is_left_and_sweeps_stale_media(review: ReviewService) -> None:
    """What the studio runs at start (in the background): items without a prediction of their
    content are predicted; media no item references, older than the grace period, removed."""
    import os
    import time

    from mmgui.data.catalogue import CatalogueRow
    from mmgui.store.catalogue import upsert_items

    review.catalogue.import_catalogue(KAGGLE_FIXTURE)
    upsert_items(review.store, [CatalogueRow("extra", "Extra", "A film left unpredicted.")], "t")
    media = review.store.media.root
    stale, fresh = (
        media / "posters" / "00" / ("0" * 64 + ".jpg"),
        media / "posters" / "00" / "x.part",
    )
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"orphan")
    fresh.write_bytes(b"being copied by another process")
    old = time.time() - 2 * review.studio.settings.media_sweep_grace_s
    os.utime(stale, (old, old))
    assert review.catalogue.recover() == (1, 1)
    assert not stale.exists() and fresh.exists()
    assert review.catalogue.recover() == (0, 0)


@pytest.fixture
def confined(tiny_models: Path, tmp_path: Path) -> ReviewService:
    settings = Settings.load(
        models_dir=tiny_models, cache_dir=tiny_models.parent / "cache",
        db_url=f"sqlite:///{tmp_path / 'queue.db'}", media_dir=tmp_path / "media",
        import_roots=(tmp_path / "imports",),
    )  # fmt: skip
    poster = next((KAGGLE_FIXTURE / "posters").glob("*.jpg"))
    for folder in ("imports", "elsewhere"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "poster.jpg").write_bytes(poster.read_bytes())
        (tmp_path / folder / "catalogue.csv").write_text(
            "id,title,poster\nm1,Alpha,poster.jpg\nm2,Beta,missing.jpg\n"
        )
    return ReviewService.open(Studio(settings))


def test_server_paths_are_confined_to_the_import_roots(
    confined: ReviewService, tmp_path: Path
) -> None:
    inside = confined.catalogue.import_server_path(str(tmp_path / "imports" / "catalogue.csv"))
    assert (inside.new, len(inside.bad)) == (1, 1)
    assert (
        confined.catalogue.import_server_path("catalogue.csv").unchanged == 1
    )  # relative to a root
    refusals = []
    for path in (tmp_path / "elsewhere" / "catalogue.csv", "../elsewhere", "/etc/passwd",
                 tmp_path / "nothing.csv", tmp_path / "queue.db"):  # fmt: skip
        with pytest.raises(MmguiError, match="inside the import folders") as caught:
            confined.catalogue.import_server_path(str(path))
        refusals.append(str(caught.value).replace(str(path), "PATH"))
    assert len(set(refusals)) == 1  # existing or not, file or folder: one message


def test_an_upload_is_named_by_its_file_name(confined: ReviewService, tmp_path: Path) -> None:
    upload = tmp_path / "gradio" / "3f2a9c" / "my catalogue.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text("id,title,poster\nm1,Alpha,\nm2,Beta,../../imports/poster.jpg\n")
    summary = confined.catalogue.import_upload(upload)
    assert summary.source == "my catalogue.csv" and summary.new == 1
    assert str(tmp_path) not in json.dumps(summary.as_dict())
    (entry,) = confined.store.audit_log()
    assert entry.detail["source"] == "my catalogue.csv" and str(tmp_path) not in str(entry.detail)
    with pytest.raises(MmguiError) as caught:
        confined.catalogue.import_upload(upload.with_name("gone.csv"))
    assert str(tmp_path) not in str(caught.value)


def test_cli_evaluate_prints_what_the_reader_skipped(tiny_models: Path, tmp_path: Path) -> None:
    cache = ["--cache-dir", str(tiny_models.parent / "cache")]
    model = ["--model", str(tiny_models / "default")]
    data = ["--data", str(KAGGLE_FIXTURE), "--split", "all"]
    done = run_cli(*cache, "evaluate", *model, *data, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n_items"] == 15
    skipped = done.stderr.splitlines()
    assert skipped[0].startswith("skipped 8 rows: ") and "1 bad imdb_id" in skipped[0]
    assert "movies_metadata.csv:12 (tt0113002): malformed row" in skipped[1]
    assert any(line.startswith("genres outside the 18, ignored") for line in skipped)


def test_a_zip_upload_imports_its_posters(confined: ReviewService, tmp_path: Path) -> None:
    import zipfile

    poster = next((KAGGLE_FIXTURE / "posters").glob("*.jpg"))
    upload = tmp_path / "gradio" / "9c1d" / "catalogue.zip"
    upload.parent.mkdir(parents=True)
    with zipfile.ZipFile(upload, "w") as bundle:
        bundle.writestr("cat.csv", "id,title,poster\nz1,Zed,posters/z.jpg\nz2,Leak,../z.jpg\n")
        bundle.write(poster, "posters/z.jpg")
    summary = confined.catalogue.import_upload(upload)
    assert (summary.source, summary.new, summary.predicted) == ("catalogue.zip", 1, 1)
    assert [b.reason for b in summary.bad] == [
        "poster file not found in the catalogue's folder: ../z.jpg"
    ]
    (entry,) = confined.store.queue(status="all")
    item = confined.item(entry.id)
    assert item.poster.is_file() and item.poster.is_relative_to(confined.store.media.root)


def test_maps_wait_for_the_editor_to_settle_and_skip_items_left_behind(
    review: ReviewService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mmgui.serve.cam_prefetch
    from mmgui.serve.cam_prefetch import CamPrefetcher

    review.catalogue.import_catalogue(KAGGLE_FIXTURE)
    items = [review.item(e.id) for e in review.store.queue(status="all", limit=50)]
    items = [i for i in items if i.poster is not None and i.genre_probs]
    computed: list[tuple[str, float, int | None]] = []
    real = mmgui.serve.cam_prefetch.poster_cams

    def counted(studio, poster, overview, title, genres, method="gradcam", threads=None):
        computed.append((title, time.monotonic(), threads))
        return real(studio, poster, overview, title, genres, method, threads)

    monkeypatch.setattr(mmgui.serve.cam_prefetch, "poster_cams", counted)
    window = 4
    maps = CamPrefetcher(review.studio, settle_s=0.5, wanted_items=window)
    first = items[0]
    maps.shown(first.id)  # as ReviewService.current does: shown, then the next prefetched
    shown_at = time.monotonic()
    maps.prefetch(first)
    assert maps.maps(first)  # computed, but only once the editor stayed on it
    assert computed[0][0] == first.title and computed[0][1] - shown_at >= 0.45
    assert computed[0][2] == 1  # one torch thread: a core stays free for the editor
    # An editor flying past more items than the window holds: the early ones are dropped.
    flown = items[1 : window + 4]
    for item in flown:
        maps.prefetch(item)
    for item in flown[3:]:
        maps.shown(item.id)
    assert maps.maps(flown[-1])
    titles = [title for title, *_ in computed[1:]]
    assert flown[0].title not in titles and flown[-1].title in titles


def test_a_failed_map_surfaces_where_it_is_shown_not_when_the_next_item_is_prefetched(
    review: ReviewService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mmgui.serve.cam_prefetch
    from mmgui.serve.cam_prefetch import CamPrefetcher

    review.catalogue.import_catalogue(KAGGLE_FIXTURE)
    item = next(
        i
        for i in (review.item(e.id) for e in review.store.queue(status="all", limit=50))
        if i.poster is not None and i.genre_probs
    )

    def broken(*_args, **_kwargs):
        raise MmguiError("the poster went missing")

    monkeypatch.setattr(mmgui.serve.cam_prefetch, "poster_cams", broken)
    maps = CamPrefetcher(review.studio, settle_s=0.0)
    maps.prefetch(item)
    with pytest.raises(MmguiError, match="went missing"):
        maps.maps(item)
    maps.prefetch(item)  # the failed future is asked about again without raising here
