"""Per-item latency (poster + overview, preprocessing included) of ONNX Runtime vs torch eager,
and catalogue-scoring throughput at batch 32, for one model version.

    python benchmarks/latency.py [--model models/default] [--items 100]

Prints one JSON object: onnx_p50_ms, onnx_p95_ms, torch_p50_ms, torch_p95_ms, items_per_s and
the machine. Inputs are the demo posters and overviews in assets/, cycled.
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

from benchmarks.machine import machine
from mmgui.config import PROJECT_ROOT, Settings
from mmgui.serve.predictor import GenrePredictor, PredictInput


def demo_items() -> list[PredictInput]:
    examples = json.loads((PROJECT_ROOT / "assets" / "examples.json").read_text())
    return [
        PredictInput(PROJECT_ROOT / "assets" / e["poster"], e["overview"], e["title"])
        for e in examples
    ]


def torch_predict_fn(version: Path):
    """The same version in torch eager: backbones from the packages + the head's weights."""
    import torch

    from mmgui.serve.torch_model import load_torch_genre_model

    copy = load_torch_genre_model(version, Settings.load())

    def predict(item: PredictInput) -> np.ndarray:
        with torch.no_grad():
            return copy.model(*copy.inputs(item.poster, item.overview, item.title)).numpy()

    return predict


def timed_ms(fn, items: list[PredictInput], n: int, warmup: int = 5) -> np.ndarray:
    for i in range(warmup):
        fn(items[i % len(items)])
    times = []
    for i in range(n):
        started = time.perf_counter()
        fn(items[i % len(items)])
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(Settings.load().default_model_dir))
    parser.add_argument("--items", type=int, default=100, help="timed single-item calls")
    parser.add_argument("--batches", type=int, default=8, help="timed batches of 32")
    args = parser.parse_args()
    version = Path(args.model)
    items = demo_items()
    predictor = GenrePredictor(version)
    onnx_ms = timed_ms(lambda item: predictor.predict_many([item]), items, args.items)
    torch_ms = timed_ms(torch_predict_fn(version), items, args.items)
    batch = [items[i % len(items)] for i in range(32)]
    predictor.predict_many(batch)
    started = time.perf_counter()
    for _ in range(args.batches):
        predictor.predict_many(batch)
    items_per_s = 32 * args.batches / (time.perf_counter() - started)
    print(
        json.dumps(
            {
                "benchmark": "latency",
                "model_version": predictor.name,
                "items": args.items,
                "onnx_p50_ms": round(float(np.percentile(onnx_ms, 50)), 2),
                "onnx_p95_ms": round(float(np.percentile(onnx_ms, 95)), 2),
                "torch_p50_ms": round(float(np.percentile(torch_ms, 50)), 2),
                "torch_p95_ms": round(float(np.percentile(torch_ms, 95)), 2),
                "items_per_s": round(items_per_s, 1),
                "batch_size": 32,
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
