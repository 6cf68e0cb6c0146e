"""The ablation table on the test split, in one run: poster-only, overview-only, the five
fusions and the sources' CNN + LSTM baseline, all trained on the same train split (thresholds
and early stopping on val) and evaluated through ONNX Runtime as served.

    python benchmarks/accuracy.py --data ../shared/data/movies [--out runs/ablation] [--markdown]

Prints one JSON object (and, with --markdown, the README table on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# Run as a script, this folder is sys.path[0]; it holds queue.py, which would shadow the
# standard library's `queue` (torch needs it): the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks.machine import machine
from mmgui.config import Settings
from mmgui.metrics import SUMMARY_KEYS
from mmgui.serve.evaluate import evaluate_version
from mmgui.serve.predictor import GenrePredictor
from mmgui.training.train import train_version

ROWS = {
    "poster-only": ("poster",),
    "poster-only-last": ("poster",),
    "overview-only": ("overview",),
    "fusion-concat": ("poster", "overview"),
    "fusion-add": ("poster", "overview"),
    "fusion-mul": ("poster", "overview"),
    "fusion-max": ("poster", "overview"),
    "fusion-gated": ("poster", "overview"),
    "baseline-cnn-lstm": ("poster", "overview"),
}


def run(data: Path, out: Path, configs: list[str]) -> dict:
    settings = Settings.load()
    rows = {}
    for name in configs:
        started = time.perf_counter()
        version = train_version(
            data,
            name,
            out / name,
            settings,
            overwrite=True,
            log=lambda m, name=name: print(f"[{name}] {m}", file=sys.stderr),
        )
        train_seconds = time.perf_counter() - started
        result = evaluate_version(GenrePredictor(version, settings), data, "test", ROWS[name])
        rows[name] = {
            **{key: result[key] for key in SUMMARY_KEYS},
            "micro_f1_at_0.5": result["at_0.5"]["micro_f1"],
            "micro_precision_at_0.5": result["at_0.5"]["micro_precision"],
            "micro_recall_at_0.5": result["at_0.5"]["micro_recall"],
            "hamming_loss_at_0.5": result["at_0.5"]["hamming_loss"],
            "modalities": list(ROWS[name]),
            "train_seconds": round(train_seconds, 1),
        }
        print(f"[{name}] test macro ROC-AUC {result['macro_roc_auc']:.4f}", file=sys.stderr)
    return {
        "benchmark": "accuracy",
        "split": "test",
        "n_items": result["n_items"],
        "genres_scored": result["genres_scored"],
        "genres_supported": result["genres_supported"],
        "rows": rows,
        "machine": machine(),
    }


def markdown(report: dict) -> str:
    columns = [
        "model",
        "modalities",
        "macro ROC-AUC",
        "(≥20 pos.)",
        "micro AP",
        "micro-F1",
        "macro-F1",
        "samples-F1",
        "Hamming",
        "micro-F1 @0.5",
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, row in report["rows"].items():
        lines.append(
            f"| {name} | {'+'.join(row['modalities'])} | {row['macro_roc_auc']:.3f} | "
            f"{row['macro_roc_auc_supported']:.3f} | {row['micro_ap']:.3f} | "
            f"{row['micro_f1']:.3f} | "
            f"{row['macro_f1']:.3f} | {row['samples_f1']:.3f} | {row['hamming_loss']:.3f} | "
            f"{row['micro_f1_at_0.5']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data/movies")
    parser.add_argument("--out", default="runs/ablation", help="where the versions are written")
    parser.add_argument("--configs", default=",".join(ROWS), help="comma list (default: all)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    report = run(Path(args.data), Path(args.out), args.configs.split(","))
    print(json.dumps(report, indent=2))
    if args.markdown:
        print(markdown(report), file=sys.stderr)


if __name__ == "__main__":
    main()
