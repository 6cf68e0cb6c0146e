"""/predict latency while a burst of bad logins hits the studio.

    python benchmarks/login_burst.py [--models models] [--logins 16] [--max-failures 5]

Launches the app with a one-user auth file on a loopback port, logs a client in, times
/predict at rest, then again while `--logins` parallel POST /login with a wrong password run
from the same address (throttled after `--max-failures`; a large value lets every attempt
hash, the worst case for the CPU). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # see app_latency.py

import httpx
from gradio_client import Client

from benchmarks.machine import machine
from mmgui.config import Settings
from mmgui.serve.auth import add_user
from mmgui.serve.studio import Studio
from mmgui.ui.app import build_app, launch_options

OVERVIEW = "A retired gunslinger rides west to settle one last score."


def timed_predicts(client: Client, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        client.predict(poster_path=None, title_text="", overview_text=OVERVIEW, api_name="/predict")
        times.append(time.perf_counter() - started)
    return times


def burst(url: str, logins: int, codes: Counter) -> None:
    def attempt() -> None:
        response = httpx.post(url, data={"username": "ana", "password": "wrong"}, timeout=120)
        codes[response.status_code] += 1

    threads = [threading.Thread(target=attempt) for _ in range(logins)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default=None, help="models folder (default: ./models)")
    parser.add_argument("--logins", type=int, default=16)
    parser.add_argument("--max-failures", type=int, default=None)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    users = Path(tempfile.mkdtemp()) / "users.json"
    add_user(users, "ana", "open sesame", "editor")
    settings = Settings.load(
        models_dir=args.models, auth_file=str(users), login_max_failures=args.max_failures
    )
    studio = Studio(settings)
    studio.load()
    app = build_app(studio)
    app.launch(
        **{**launch_options(settings), "server_port": None}, prevent_thread_lock=True, quiet=True
    )
    try:
        client = Client(app.local_url, auth=("ana", "open sesame"), verbose=False)
        timed_predicts(client, 2)  # warm up
        at_rest = timed_predicts(client, args.calls)
        codes: Counter = Counter()
        attack = threading.Thread(
            target=burst, args=(f"{app.local_url.rstrip('/')}/login", args.logins, codes)
        )
        started = time.perf_counter()
        attack.start()
        during = []
        while attack.is_alive() or not during:
            during += timed_predicts(client, 1)
        attack.join()
        burst_s = time.perf_counter() - started
    finally:
        app.close()
    print(
        json.dumps(
            {
                "benchmark": "login_burst",
                "logins": args.logins,
                "login_max_failures": settings.login_max_failures,
                "login_status_codes": {str(k): v for k, v in sorted(codes.items())},
                "burst_s": round(burst_s, 2),
                "predict_at_rest_p50_s": round(float(np.median(at_rest)), 3),
                "predict_during_burst_p50_s": round(float(np.median(during)), 3),
                "predict_during_burst_max_s": round(max(during), 3),
                "predicts_during_burst": len(during),
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
