"""Editors' flows across tabs in a real browser (Debian's Chromium under Playwright): a
catalogue zip imported from the browser, a rollback through a flagged version, and a job that
waits for the device while another training process holds it."""

from __future__ import annotations

import shutil
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmgui.config import Settings
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.ui.app import build_app, launch_options
from tests.conftest import KAGGLE_FIXTURE

FLAG = "micro-F1 0.60 < 0.65"


@contextmanager
def launched(settings: Settings) -> Iterator[tuple[str, ReviewService]]:
    """A studio of its own on a free loopback port (its own queue and versions)."""
    review = ReviewService.open(Studio(settings))
    app = build_app(review.studio, review)
    app.launch(
        **{**launch_options(settings), "server_port": None}, prevent_thread_lock=True, quiet=True
    )
    try:
        yield app.local_url, review
    finally:
        app.close()


def own_settings(tiny_models: Path, tmp_path: Path) -> Settings:
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    return Settings.load(
        models_dir=models,
        cache_dir=tmp_path / "cache",
        db_url=f"sqlite:///{tmp_path / 'queue.db'}",
        media_dir=tmp_path / "media",
        worker_poll_seconds=0.2,
    )


def test_a_catalogue_zip_with_its_posters_imports_from_the_browser(
    browser, studio_url: str, studio_settings, tmp_path: Path
) -> None:
    posters = sorted((KAGGLE_FIXTURE / "posters").glob("*.jpg"))[:2]
    archive = tmp_path / "catalogue.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        rows = [f"zip-{i},Zipped film {i},posters/{p.name}" for i, p in enumerate(posters)]
        bundle.writestr("catalogue.csv", "id,title,poster\n" + "\n".join(rows) + "\n")
        for poster in posters:
            bundle.write(poster, f"posters/{poster.name}")
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(studio_url)
    page.get_by_role("tab", name="Review").click()
    page.get_by_text("Import and export").click()
    page.locator("#review-import-upload input[type=file]").set_input_files(str(archive))
    page.locator("#review-import").click()
    page.locator("#review-import-message").get_by_text("2 new").wait_for(timeout=60_000)
    assert "0 bad rows" in page.locator("#review-import-message").inner_text()
    # The queue reloads by itself after an import: no click on Load queue.
    page.locator("#review-position").get_by_text("in this view").wait_for(timeout=30_000)
    review = ReviewService.open(Studio(studio_settings))
    items = [review.item(e.id) for e in review.store.queue(status="all", search="Zipped film")]
    assert sorted(i.external_id for i in items) == ["zip-0", "zip-1"]
    assert all(i.poster is not None and i.poster.is_file() and i.genre_probs for i in items)


def test_rollback_asks_and_walks_back_through_a_flagged_version(
    browser, tiny_models: Path, tmp_path: Path
) -> None:
    settings = own_settings(tiny_models, tmp_path)
    with launched(settings) as (url, review):
        versions = review.manager.versions
        versions.register("v1", "default", {}, parent="default", flagged=FLAG)
        versions.register("v2", "default", {}, parent="v1")
        review.manager.promote("v1", "local", confirmed=True)
        review.manager.promote("v2", "local")
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url)
        page.get_by_role("tab", name="Models").click()
        page.locator("#models-active").get_by_text("Serving v2").wait_for(timeout=30_000)
        message = page.locator("#models-message")
        for back_to, flagged in (("v1", True), ("default", False)):
            page.locator("#models-rollback").click()
            page.locator("#models-confirm-rollback").wait_for(timeout=30_000)
            question = message.inner_text()
            assert back_to in question and (FLAG in question) == flagged, question
            assert versions.active().name != back_to  # nothing happens before the confirmation
            page.locator("#models-confirm-rollback").click()
            message.get_by_text(f"Rolled back: {back_to} is served again").wait_for(timeout=30_000)
            assert versions.active().name == back_to
        page.locator("#models-rollback").click()  # the history is used up: no ping-pong
        page.get_by_text("nothing to roll back to").first.wait_for(timeout=30_000)
        assert versions.active().name == "default"


def test_a_job_waiting_for_the_device_says_who_holds_it_and_can_be_cancelled(
    browser, tiny_models: Path, tmp_path: Path
) -> None:
    from mmgui.worker import DeviceLock, Worker

    settings = own_settings(tiny_models, tmp_path)
    stop = threading.Event()
    with launched(settings) as (url, review), DeviceLock(settings, "cpu") as other:
        assert other.acquire(job_id=12)  # another training process on this host
        worker = Worker(settings, log=lambda _: None)
        thread = threading.Thread(target=worker.run, kwargs={"stop": stop})
        thread.start()
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url)
            page.get_by_role("tab", name="Training").click()
            page.locator("#train-now").click()
            jobs = page.locator("#training-jobs")
            waiting = jobs.get_by_text("waiting for the CPU: job 12").first
            waiting.wait_for(state="attached", timeout=60_000)  # in a column scrolled aside
            assert "waiting" in jobs.inner_text()
            (job,) = review.manager.recent_jobs()
            assert job.status == "running" and job.started_at is None  # claimed, not started
            page.locator("#training-cancel").click()
            jobs.get_by_text("cancelled").first.wait_for(state="attached", timeout=60_000)
            assert review.manager.jobs.get(job.id).status == "cancelled"
            cancels = [e for e in review.store.audit_log() if e.action == "cancel_job"]
            assert [e.detail["job_id"] for e in cancels] == [job.id]
        finally:
            stop.set()
            thread.join(timeout=60)
    assert not thread.is_alive()
