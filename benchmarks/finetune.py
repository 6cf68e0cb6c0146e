"""Finetuning speed: one heads-only job on 1,000 corrected items, through the real path.

    python benchmarks/finetune.py [--data ../shared/data/movies] [--corrections 1000]

A scratch studio imports `--corrections` movies of the train split (a seeded random sample,
as a plain CSV without labels); a simulated editor saves each with its true genres through
`ReviewStore.decide`; `ModelManager.train_now` queues a heads job and a `Worker` runs it in
this process (on the CPU unless torch sees a GPU and MMGUI_DEVICE allows it). The corrected
movies leave the job's replay pool; val and test stay intact for its calibration and report.
With a GPU at hand a full-mode job is queued on it as well; its time is reported only when
it ran: without a GPU, or when the build cannot run full jobs, the JSON says why instead.

Prints one JSON object; goal: the heads job ≤ 120 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

# The repository root takes this folder's place on the path: benchmarks/queue.py would
# otherwise shadow the standard library's `queue` (which torch imports).
# Run as a script, this folder is sys.path[0]; it holds queue.py, which would shadow the
# standard library's `queue` (torch needs it): the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks.corrections import (
    EDITOR,
    decide_true_genres,
    item_ids,
    open_scratch_review,
    run_finetune_job,
    scratch_settings,
    setting,
    write_catalogue,
)
from benchmarks.machine import machine
from mmgui.config import PROJECT_ROOT
from mmgui.data.kaggle import load_records, select_split
from mmgui.errors import MmguiError
from mmgui.worker import Worker, pick_device

GOAL_S = 120.0


def full_on_gpu(review, data: Path) -> dict:
    """A full-mode job on the GPU, or why it was not measured."""
    if pick_device(review.studio.settings.device) != "cuda":
        return {"measured": False, "seconds": None, "reason": "no GPU on this machine"}
    manager = review.manager
    job_id = manager.train_now(EDITOR, "full", data_dir=str(data))
    started = time.perf_counter()
    Worker(review.studio.settings, log=lambda _: None).run(once=True)
    seconds = time.perf_counter() - started
    job = manager.jobs.get(job_id)
    if job.status != "done":
        return {"measured": False, "seconds": None, "reason": f"the job {job.status}: {job.error}"}
    return {"measured": True, "seconds": round(seconds, 1), "device": job.device}


def run(args: argparse.Namespace) -> dict:
    train = select_split(load_records(args.data), "train")
    corrected = random.Random(args.seed).sample(train, args.corrections)
    with tempfile.TemporaryDirectory(prefix="mmgui-finetune-") as tmp:
        work = Path(tmp)
        settings = scratch_settings(work)
        started = time.perf_counter()
        review = open_scratch_review(settings)
        review.catalogue.import_catalogue(write_catalogue(corrected, work / "catalogue.csv"))
        import_s = time.perf_counter() - started
        decisions = decide_true_genres(review.store, item_ids(review.store), corrected)
        job = run_finetune_job(review, args.data, **dict(args.set))
        heads_s = time.perf_counter() - started
        try:
            full = full_on_gpu(review, args.data)
        except MmguiError as err:
            full = {"measured": False, "seconds": None, "reason": str(err)}
        review.store.close()
    finetune = job.meta_finetune
    return {
        "benchmark": "finetune",
        "n_corrections": finetune["n_corrections"],
        "corrections_from": f"train split, seeded random sample (seed {args.seed})",
        "decisions": {"correct": decisions.corrected, "accept": decisions.accepted},
        "heads_job_seconds": round(job.seconds, 1),
        "heads_finetune_seconds": finetune["seconds"],
        "heads_goal_seconds": GOAL_S,
        "heads_goal_met": job.seconds <= GOAL_S,
        "heads_device": job.device,
        "epochs_run": job.epochs_run,
        "best_epoch": finetune["best_epoch"],
        "n_train_items_per_epoch": finetune["n_train_corrections"]
        * finetune["settings"]["oversample"]
        + finetune["n_replay"],
        "n_eval": finetune["n_eval"],
        "finetune_settings": finetune["settings"],
        "flagged_by_job": job.flagged,
        "full_finetune_gpu": full,
        "worker": "in-process (Worker(settings).run(once=True))",
        "phases_seconds": {
            "import": round(import_s, 1),
            "decisions": round(decisions.seconds, 1),
            "job": round(job.seconds, 1),
        },
        "seconds": round(heads_s, 1),
        "device": job.device,
        "machine": machine(),
        "timing_note": "wall times on a CPU shared with other work: expect ±30 % between runs",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT.parent / "shared/data/movies")
    parser.add_argument("--corrections", type=int, default=1000)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", type=setting,
        help="a FinetuneSettings field for the job, e.g. --set lr=3e-4 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
