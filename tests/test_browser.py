"""The Predict tab in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import KAGGLE_FIXTURE

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
POSTER = KAGGLE_FIXTURE / "posters" / "tt0112817.jpg"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (README, install step)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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


def test_review_one_item_with_the_keyboard(browser, studio_url: str, studio_settings) -> None:
    from mmgui.serve.review import ReviewService
    from mmgui.serve.studio import Studio

    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(studio_url)
    page.get_by_role("tab", name="Review").click()
    page.locator("#review-load").click()
    page.locator("#review-position").get_by_text("item 1 of").wait_for(timeout=30_000)
    title = page.locator("#review-details h3").inner_text()
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
    page.locator("#review-message").get_by_text(f"Saved “{title}”").wait_for(timeout=30_000)
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
    page.locator("input[type=file]").last.set_input_files(str(clip))
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
