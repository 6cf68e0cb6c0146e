"""The studio in a real browser: Debian's Chromium driven by Playwright (the `browser`
fixture is in conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import KAGGLE_FIXTURE

POSTER = KAGGLE_FIXTURE / "posters" / "tt0112817.jpg"


def test_predict_shows_genres_and_a_cam_map(browser, studio_url: str, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(studio_url)
    page.locator("input[type=file]").first.set_input_files(str(POSTER))
    page.get_by_label("Overview").fill("A detective hunts a serial killer through the city.")
    page.get_by_role("button", name="Predict").click()
    page.get_by_text("Tags:").wait_for(timeout=30_000)
    for genre in ("Drama", "Comedy", "Western"):
        assert page.get_by_text(genre, exact=True).count() >= 1
    cam_images = page.locator("img[src*='file=']")
    cam_images.first.wait_for(timeout=60_000)
    assert cam_images.count() >= 1
    page.screenshot(path=str(tmp_path / "predict.png"), full_page=True)
    assert (tmp_path / "predict.png").stat().st_size > 10_000


def test_a_demo_example_runs_in_one_click(browser, studio_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(studio_url)
    page.get_by_text("Martin", exact=True).first.click()
    page.get_by_text("Tags:").wait_for(timeout=30_000)
    page.locator("img[src*='file=']").first.wait_for(timeout=60_000)
    assert page.get_by_label("Title").input_value() == "Martin"


def open_review_queue(browser, url: str):
    """A page on the Review tab with the default queue loaded."""
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(url)
    page.get_by_role("tab", name="Review").click()
    page.locator("#review-load").click()
    page.locator("#review-position").get_by_text("in this view").wait_for(timeout=30_000)
    return page


def test_review_one_item_with_the_keyboard(browser, studio_url: str, studio_settings) -> None:
    from mmgui.serve.review import ReviewService
    from mmgui.serve.studio import Studio

    page = open_review_queue(browser, studio_url)
    title = page.locator("#review-details h3").inner_text()
    page.locator("#review-cams img").first.wait_for(timeout=60_000)  # the maps follow
    boxes = page.locator("#review-labels input[type=checkbox]")
    western = boxes.nth(17)  # key r
    was_checked = western.is_checked()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("r")
    assert western.is_checked() != was_checked
    expected = sorted(
        page.locator("#review-labels label").nth(i).inner_text().split(" · ")[0][4:]
        for i in range(18)
        if boxes.nth(i).is_checked()
    )
    page.keyboard.press("Enter")
    page.locator("#review-message").get_by_text(f"Corrected “{title}”").wait_for(timeout=30_000)
    review = ReviewService.open(Studio(studio_settings))
    (item,) = [review.item(e.id) for e in review.store.queue(status="all") if e.title == title]
    assert item.labels == sorted(expected, key=list(item.genre_probs).index)
    assert item.history[0].username == "local" and item.history[0].action == "correct"
    page.keyboard.press("z")
    page.locator("#review-message").get_by_text(f"Undone: “{title}”").wait_for(timeout=30_000)
    assert review.item(item.id).history[0].action == "undo"


def test_the_clip_tab_draws_the_emotion_line(browser, studio_url: str, tmp_path: Path) -> None:
    from tests.clip_fixtures import calm_then_intense

    clip = calm_then_intense(tmp_path / "clip.mp4")
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(studio_url)
    page.get_by_role("tab", name="Clip").click()
    page.locator("#clip-upload input[type=file]").set_input_files(str(clip))
    assert_plays(page.locator("#clip-player video"))  # the upload plays before analysis
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text("Tags:").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    assert page.locator(".js-plotly-plot").count() == 2
    assert page.locator(".js-plotly-plot image").count() >= 6  # the keyframe strip
    page.screenshot(path=str(tmp_path / "clip.png"), full_page=True)
    shutil.copy(tmp_path / "clip.png", Path("/tmp") / "mmgui_clip_tab.png")


def test_the_demo_clip_runs_in_one_click(browser, studio_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(studio_url)
    page.get_by_role("tab", name="Clip").click()
    page.get_by_text("Caminandes: Llama Drama").first.click()
    page.get_by_text("Tags:").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    assert page.get_by_text("no audio track").count() >= 1  # the notice, shown as a warning


def assert_plays(video) -> None:
    """The <video> element loads its source and its playhead moves once played (play is
    asked again while paused: a re-render may interrupt the first request)."""
    video.wait_for(timeout=30_000)
    handle = video.element_handle()
    video.page.wait_for_function(
        "v => { if (v.paused) { v.muted = true; v.play().catch(() => {}); }"
        " return v.currentTime > 0.2; }",
        arg=handle,
        timeout=30_000,
    )


def test_unsaved_toggles_survive_moving_away_and_back(browser, studio_url: str) -> None:
    page = open_review_queue(browser, studio_url)
    title = page.locator("#review-details h3").inner_text()
    boxes = page.locator("#review-labels input[type=checkbox]")
    before = [boxes.nth(i).is_checked() for i in range(18)]
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("a")
    page.keyboard.press("b")
    drafted = [boxes.nth(i).is_checked() for i in range(18)]
    assert drafted[:2] == [not before[0], not before[1]] and drafted[2:] == before[2:]
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "t => document.querySelector('#review-details h3').innerText !== t", arg=title
    )
    page.keyboard.press("ArrowLeft")
    page.locator("#review-details h3").get_by_text(title, exact=True).wait_for(timeout=30_000)
    page.locator("#review-message").get_by_text("unsaved toggles").wait_for(timeout=30_000)
    assert [boxes.nth(i).is_checked() for i in range(18)] == drafted
    page.keyboard.press("?")
    page.locator("#review-help").get_by_text("show or hide this help").wait_for(timeout=10_000)


def test_a_clip_item_plays_in_the_review_tab(browser, studio_url: str, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    from tests.clip_fixtures import calm_then_intense

    clip = calm_then_intense(tmp_path / "clip.mp4")
    client = Client(studio_url, verbose=False)
    client.predict(handle_file(str(clip)), "Player check", "", api_name="/analyse_clip")
    client.predict(api_name="/send_clip_to_queue")
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(studio_url)
    page.get_by_role("tab", name="Review").click()
    page.locator("#review-search input, #review-search textarea").fill("Player check")
    page.locator("#review-load").click()
    page.locator("#review-details h3").get_by_text("Player check").wait_for(timeout=30_000)
    assert_plays(page.locator("#review-clip video"))


def test_the_model_line_follows_the_served_version(
    browser, tiny_models: Path, tmp_path: Path
) -> None:
    import json

    from mmgui.config import Settings
    from mmgui.serve.review import ReviewService
    from mmgui.serve.studio import Studio
    from mmgui.ui.app import build_app, launch_options

    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    promoted = models / "v0001"
    shutil.copytree(models / "default", promoted)
    meta = json.loads((promoted / "model.json").read_text())
    (promoted / "model.json").write_text(json.dumps({**meta, "name": "v0001"}))
    settings = Settings.load(
        models_dir=models,
        cache_dir=tiny_models.parent / "cache",
        db_url=f"sqlite:///{tmp_path / 'queue.db'}",
        media_dir=tmp_path / "media",
    )
    review = ReviewService.open(Studio(settings))
    app = build_app(review.studio, review)
    app.launch(**{**launch_options(settings), "server_port": None}, prevent_thread_lock=True)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.goto(app.local_url)
        page.get_by_text("Serving default").wait_for(timeout=30_000)
        review.manager.versions.register("v0001", "v0001", {}, parent="default")
        review.manager.promote("v0001", "local")  # what the Models tab's Promote does
        page.reload()
        page.get_by_text("Serving v0001").wait_for(timeout=30_000)
        assert page.get_by_text("Serving default").count() == 0
    finally:
        app.close()


def test_the_training_tab_polls_only_while_it_is_shown(
    browser, studio_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts the jobs queries the page causes: none on another tab, some on Training."""
    from mmgui.serve.models import ModelManager
    from mmgui.serve.studio import Studio
    from mmgui.ui.app import build_app, launch_options
    from mmgui.ui.training_tab import POLL_SECONDS

    queries: list[int] = []
    recent_jobs = ModelManager.recent_jobs
    monkeypatch.setattr(
        ModelManager, "recent_jobs", lambda self, *a: queries.append(1) or recent_jobs(self, *a)
    )
    app = build_app(Studio(studio_settings))
    app.launch(
        **{**launch_options(studio_settings), "server_port": None}, prevent_thread_lock=True,
        quiet=True,
    )  # fmt: skip
    few_ticks = 3 * POLL_SECONDS * 1000
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.goto(app.local_url)
        page.get_by_role("tab", name="Training").wait_for(timeout=30_000)
        page.wait_for_timeout(few_ticks)
        assert queries == []  # the Predict tab is shown
        page.get_by_role("tab", name="Training").click()
        page.locator("#training-message").wait_for(state="attached", timeout=30_000)
        for _ in range(100):
            if len(queries) >= 2:
                break
            page.wait_for_timeout(200)
        assert len(queries) >= 2  # ticking while shown
        page.get_by_role("tab", name="Models").click()
        page.wait_for_timeout(POLL_SECONDS * 1000)  # a tick already on its way lands
        settled = len(queries)
        page.wait_for_timeout(few_ticks)
        assert len(queries) == settled
    finally:
        app.close()
