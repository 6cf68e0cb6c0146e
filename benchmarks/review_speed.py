"""Review at the speed of a keypress: the Review tab in Chromium, driven by the keyboard.

    python benchmarks/review_speed.py [--data ../shared/data/movies] [--items 200] [--decisions 50]

A scratch studio (SQLite queue, media folder, a copy of the default version) imports `--items`
movies of `--data` as an editor's catalogue (a CSV with its posters beside it, predicted on
import) and is launched on a loopback port. Playwright drives Debian's Chromium: one click on
"Load queue", then `--decisions` keyboard decisions (Enter to save, with a genre toggled first
on every third item, `s` to skip every fifth). Each decision is timed from the keypress to the
next item on screen: its title in the details, its poster decoded in the <img>, and its 18
genre toggles. Both ends are taken in the page's own clock: the keydown event (as the browser
receives it, so Playwright's transport to the browser is not counted) and the first animation
frame that shows the next item. The Grad-CAM maps arrive after that, in an event of their own,
and are not waited for. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Run as a script, this folder is sys.path[0]; it holds queue.py, which would shadow the
# standard library's `queue` (torch needs it): the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from playwright.sync_api import sync_playwright

from benchmarks.corrections import open_scratch_review, scratch_settings, write_catalogue
from benchmarks.machine import machine
from mmgui.data.kaggle import read_kaggle
from mmgui.ui.app import build_app, launch_options

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip
NEXT_ITEM_SHOWN = """previous => {
    const title = document.querySelector('#review-details h3');
    const poster = document.querySelector('#review-poster img');
    const toggles = document.querySelectorAll('#review-labels input[type=checkbox]');
    const shown = title && title.innerText !== previous.title && poster && poster.complete
        && poster.naturalWidth > 0 && poster.src !== previous.poster && toggles.length === 18;
    if (shown) window.mmguiShownAt = performance.now();
    return shown;
}"""
# The keydown as the page receives it (capture phase: before the studio's own key handler).
RECORD_KEYDOWN = """() => document.addEventListener('keydown',
    () => { window.mmguiPressedAt = performance.now(); }, true)"""
SHOWN = """() => ({
    title: document.querySelector('#review-details h3')?.innerText ?? '',
    poster: document.querySelector('#review-poster img')?.src ?? '',
})"""


def catalogue(data: Path, count: int, folder: Path) -> Path:
    """`count` movies of `data` with a poster, as a CSV whose posters sit beside it."""
    records = [r for r in read_kaggle(data).records if r.poster is not None]
    chosen = random.Random(0).sample(records, min(count, len(records)))
    posters = folder / "posters"
    posters.mkdir(parents=True)
    for record in chosen:
        shutil.copy(record.poster, posters / record.poster.name)
    moved = [r.__class__(**{**vars(r), "poster": Path("posters") / r.poster.name}) for r in chosen]
    return write_catalogue(moved, folder / "catalogue.csv")


def percentiles(times_ms: list[float]) -> dict:
    return {q: round(float(np.percentile(times_ms, int(q[1:3]))), 1) for q in ("p50", "p95")}


def drive(url: str, decisions: int) -> tuple[float, list[float], list[str]]:
    """(first load seconds, per-decision milliseconds, keys pressed) in a real browser."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url)
        page.get_by_role("tab", name="Review").click()
        started = time.perf_counter()
        page.locator("#review-load").click()
        page.wait_for_function(NEXT_ITEM_SHOWN, arg={"title": "", "poster": ""}, polling="raf")
        first_load = time.perf_counter() - started
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.evaluate(RECORD_KEYDOWN)
        timings, keys = [], []
        for i in range(decisions):
            if i % 3 == 0:
                page.keyboard.press("r")  # a correction: one genre toggled
            key = "s" if i % 5 == 4 else "Enter"
            shown = page.evaluate(SHOWN)
            page.keyboard.press(key)
            page.wait_for_function(NEXT_ITEM_SHOWN, arg=shown, polling="raf", timeout=60_000)
            timings.append(page.evaluate("window.mmguiShownAt - window.mmguiPressedAt"))
            keys.append(key)
        browser.close()
    return first_load, timings, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data/movies", type=Path)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--decisions", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmgui-review-speed-") as scratch:
        work = Path(scratch)
        settings = scratch_settings(work)
        review = open_scratch_review(settings)
        review.studio.load()
        started = time.perf_counter()
        summary = review.catalogue.import_catalogue(
            catalogue(args.data, args.items, work / "catalogue")
        )
        import_s = time.perf_counter() - started
        app = build_app(review.studio, review)
        app.launch(
            **{**launch_options(settings), "server_port": None},
            prevent_thread_lock=True,
            quiet=True,
        )
        try:
            first_load, timings, keys = drive(app.local_url, args.decisions)
        finally:
            app.close()
        saved = review.store.count("reviewed") + review.store.count("skipped")
    print(
        json.dumps(
            {
                "benchmark": "review_speed",
                "items": summary.new,
                "import_s": round(import_s, 1),
                "first_load_s": round(first_load, 2),
                "decisions": len(timings),
                "decisions_in_db": saved,
                "keys": {k: keys.count(k) for k in sorted(set(keys))},
                "next_item_p50_ms": percentiles(timings)["p50"],
                "next_item_p95_ms": percentiles(timings)["p95"],
                "next_item_max_ms": round(max(timings), 1),
                "goal": {"next_item_p50_ms": 150, "next_item_p95_ms": 300, "first_load_s": 2},
                "browser": "Debian chromium, headless, Playwright",
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
