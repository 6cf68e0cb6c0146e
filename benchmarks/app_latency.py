"""Studio latency through its HTTP API (gradio_client) against a launched app.

    python benchmarks/app_latency.py [--models models] [--calls 30]

Launches the app on a loopback port with the given models folder, then times /predict (no
CAM) and /explain (three Grad-CAM maps: the predicted tags, or the top genre, filled up with
picked genres; plus the word weights) over the demo assets. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default=None, help="models folder (default: ./models)")
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    settings = Settings.load(models_dir=args.models)
    studio = Studio(settings)
    studio.load()
    app = build_app(studio)
    app.launch(
        **{**launch_options(settings), "server_port": None}, prevent_thread_lock=True, quiet=True
    )
    try:
        client = Client(app.local_url, verbose=False)
        examples = demo_examples()
        predict_ms, explain_ms, maps = [], [], []
        for i in range(args.calls + 2):  # the first two warm up
            poster, title, overview = examples[i % len(examples)]
            started = time.perf_counter()
            client.predict(
                poster_path=handle_file(poster),
                title_text=title,
                overview_text=overview,
                api_name="/predict",
            )
            predict_elapsed = (time.perf_counter() - started) * 1000
            # Ask for exactly three maps: the tags (or the top genre), filled up with others.
            tags = studio.predict(poster, overview, title).tags[: settings.cam_genres]
            fill = [g for g in ("Western", "War", "Music") if g not in tags]
            extra = fill[: 3 - max(len(tags), 1)]
            started = time.perf_counter()
            gallery, *_ = client.predict(
                poster_path=handle_file(poster),
                title_text=title,
                overview_text=overview,
                method_name="gradcam",
                extra_genres=extra,
                api_name="/explain",
            )
            explain_elapsed = (time.perf_counter() - started) * 1000
            maps.append(len(gallery))
            if i >= 2:
                predict_ms.append(predict_elapsed)
                explain_ms.append(explain_elapsed)
        print(
            json.dumps(
                {
                    "benchmark": "app_latency",
                    "model_version": studio.predictor.name,
                    "calls": args.calls,
                    "predict": percentiles(predict_ms),
                    "explain_cams_and_words": percentiles(explain_ms),
                    "cam_maps_per_explain": sorted(set(maps)),
                    "machine": machine(),
                },
                indent=2,
            )
        )
    finally:
        app.close()


if __name__ == "__main__":
    main()
