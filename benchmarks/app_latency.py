"""Studio latency through its HTTP API (gradio_client) against a launched app.

    python benchmarks/app_latency.py [--models models] [--calls 30]

Launches the app on a loopback port with the given models folder, then times /predict (no
CAM) and /explain (three Grad-CAM maps: the predicted tags, or the top genre, filled up with
picked genres; plus the word weights) over the demo assets, and /explain again with a
200-word overview (the demo overviews run together; goal p95 <= 1.5 s). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

# Run as a script, this folder is sys.path[0]; it holds queue.py, which would shadow the
# standard library's `queue` (torch needs it): the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from gradio_client import Client, handle_file

from benchmarks.machine import machine
from mmgui.config import Settings
from mmgui.serve.studio import Studio, demo_examples
from mmgui.ui.app import build_app, launch_options


def percentiles(times_ms: list[float]) -> dict:
    return {
        "p50_ms": round(float(np.percentile(times_ms, 50)), 1),
        "p95_ms": round(float(np.percentile(times_ms, 95)), 1),
    }


LONG_OVERVIEW_WORDS = 200


def long_overview(examples: list[list[str]], start: int) -> str:
    """`LONG_OVERVIEW_WORDS` words of the demo overviews run together, from word `start`."""
    words = " ".join(overview for _, _, overview in examples).split()
    return " ".join((words * 4)[start : start + LONG_OVERVIEW_WORDS])


def explain(client: Client, studio: Studio, poster: str, title: str, overview: str) -> tuple:
    """(milliseconds, CPU milliseconds of this process, maps, words scored) of one /explain
    asking for exactly three maps: the tags (or the top genre), filled up with others. The app
    runs in this process, so its CPU time says what a call costs when others load the machine.
    """
    tags = studio.predict(poster, overview, title).tags[: studio.settings.cam_genres]
    fill = [g for g in ("Western", "War", "Music") if g not in tags]
    extra = fill[: 3 - max(len(tags), 1)]
    started, cpu_started = time.perf_counter(), time.process_time()
    gallery, _, words = client.predict(
        poster_path=handle_file(poster),
        title_text=title,
        overview_text=overview,
        method_name="gradcam",
        extra_genres=extra,
        api_name="/explain",
    )
    wall_ms = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu_started) * 1000
    return wall_ms, cpu_ms, len(gallery), len(words or [])


def time_calls(client: Client, studio: Studio, calls: int) -> dict:
    """Per call: /predict, /explain on a demo item, /explain on a 200-word overview."""
    examples = demo_examples()
    timings: dict[str, list] = {
        key: [] for key in ("predict", "explain", "long", "long_cpu", "maps", "scored")
    }
    for i in range(calls + 2):  # the first two warm up
        poster, title, overview = examples[i % len(examples)]
        started = time.perf_counter()
        client.predict(
            poster_path=handle_file(poster),
            title_text=title,
            overview_text=overview,
            api_name="/predict",
        )
        predict_ms = (time.perf_counter() - started) * 1000
        explain_ms, _, maps, _ = explain(client, studio, poster, title, overview)
        long_text = long_overview(examples, 7 * i)
        long_ms, long_cpu_ms, _, scored = explain(client, studio, poster, title, long_text)
        timings["maps"].append(maps)
        timings["scored"].append(scored)
        if i >= 2:
            for key, value in (
                ("predict", predict_ms),
                ("explain", explain_ms),
                ("long", long_ms),
                ("long_cpu", long_cpu_ms),
            ):
                timings[key].append(value)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default=None, help="models folder (default: ./models)")
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    settings = Settings.load(models_dir=args.models)
    studio = Studio(settings)
    studio.load()
    app = build_app(studio)
    app.launch(
        **{**launch_options(settings), "server_port": None}, prevent_thread_lock=True, quiet=True
    )
    try:
        timings = time_calls(Client(app.local_url, verbose=False), studio, args.calls)
    finally:
        with contextlib.redirect_stdout(sys.stderr):  # its "Closing server" line is not JSON
            app.close()
    result = {
        "benchmark": "app_latency",
        "model_version": studio.predictor.name,
        "calls": args.calls,
        "predict": percentiles(timings["predict"]),
        "explain_cams_and_words": percentiles(timings["explain"]),
        "cam_maps_per_explain": sorted(set(timings["maps"])),
        f"explain_{LONG_OVERVIEW_WORDS}_word_overview": {
            **percentiles(timings["long"]),
            "cpu": percentiles(timings["long_cpu"]),
            "words_scored": sorted(set(timings["scored"])),
            "goal_p95_ms": 1500,
        },
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
