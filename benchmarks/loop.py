"""Loop efficacy: does correcting 300 items where the model is weak make it better there,
without making it worse elsewhere?

    python benchmarks/loop.py [--data ../shared/data/movies] [--corrections 300] [--genre G]

The test split of `--data` is imported into a scratch studio as an editor's catalogue (a
plain CSV, no labels; predicted by the default version on import). The slice is the test
movies whose true genres include one genre: by default, of the genres with at least
`--corrections` + `--min-eval` test movies, the one on whose movies the default's macro-F1
(from the import's predictions, at its stored thresholds) is lowest. A simulated editor saves
`--corrections` movies of the slice (a seeded random sample) with their true genres through
`ReviewStore.decide`; `ModelManager.train_now` queues a heads job that a `Worker` runs in this
process; then the default and the new version are scored with the served predictor (ONNX
Runtime, stored thresholds) on the rest of the slice and on the rest of the test split (every
test movie outside the slice). The corrected movies are never scored; the job tunes its
temperature and thresholds on its held-out corrections and the val split, never on these.

Prints one JSON object. Goals: slice macro-F1 +5 points, at most 0.5 point lost on the rest,
the whole loop (import, decisions, job, scoring) within 3 minutes on the CPU.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The repository root takes this folder's place on the path: benchmarks/queue.py would
# otherwise shadow the standard library's `queue` (which torch imports).
# Run as a script, this folder is sys.path[0]; it holds queue.py, which would shadow the
# standard library's `queue` (torch needs it): the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks.corrections import (
    Decisions,
    JobRun,
    decide_true_genres,
    item_ids,
    open_scratch_review,
    run_finetune_job,
    scratch_settings,
    served_probs,
    setting,
    write_catalogue,
)
from benchmarks.machine import machine
from mmgui.config import PROJECT_ROOT
from mmgui.data.kaggle import MovieRecord, labels_of, load_records, select_split
from mmgui.genres import GENRES
from mmgui.metrics import evaluate_probs
from mmgui.store.catalogue import export_records

HEADLINE = ("macro_f1", "micro_f1", "samples_f1", "macro_roc_auc")


def weakest_genre(
    test: list[MovieRecord], probs: np.ndarray, thresholds: np.ndarray, min_items: int
) -> tuple[str, dict]:
    """The genre with enough test movies on whose movies the model's macro-F1 is lowest."""
    labels = labels_of(test)
    candidates = {}
    for g, genre in enumerate(GENRES):
        rows = labels[:, g] == 1
        if rows.sum() >= min_items:
            macro_f1 = evaluate_probs(labels[rows], probs[rows], thresholds)["macro_f1"]
            candidates[genre] = {"n_items": int(rows.sum()), "default_macro_f1": round(macro_f1, 4)}
    if not candidates:
        raise SystemExit(f"no genre has {min_items} test movies; lower --corrections")
    return min(candidates, key=lambda g: candidates[g]["default_macro_f1"]), candidates


def import_probs(review, test: list[MovieRecord]) -> tuple[np.ndarray, np.ndarray]:
    """The import's predictions (the active version's) of the test movies, in `test` order."""
    by_id = {r.external_id: r.genre_probs for r in export_records(review.store)}
    probs = np.array([[by_id[r.imdb_id][g] for g in GENRES] for r in test])
    return probs, review.studio.predictor.thresholds.astype(float)


def summary(labels: np.ndarray, probs: np.ndarray, thresholds: np.ndarray) -> dict:
    metrics = evaluate_probs(labels, probs, thresholds)
    out = {k: round(metrics[k], 4) for k in HEADLINE}
    out["positives_per_genre"] = {
        g: metrics["per_genre"][g]["support"] for g in metrics["genres_scored"]
    }
    out["f1_per_genre"] = {
        g: round(metrics["per_genre"][g]["f1"], 3) for g in metrics["genres_scored"]
    }
    return out


def macro_f1_delta_interval(
    labels: np.ndarray, before: np.ndarray, after: np.ndarray, resamples: int = 2000
) -> list[float]:
    """90 % paired-bootstrap interval (over items) of after − before macro-F1, both 0/1
    decisions, averaged over the genres with positives and negatives in `labels`."""
    support = labels.sum(axis=0)
    scored = (support > 0) & (support < len(labels))
    weights = np.random.default_rng(0).multinomial(
        len(labels), np.full(len(labels), 1 / len(labels)), size=resamples
    )

    def macro_f1(pred: np.ndarray) -> np.ndarray:
        true_pos = weights @ (labels * pred)[:, scored]
        total = weights @ (labels + pred)[:, scored]
        return np.where(total > 0, 2 * true_pos / np.maximum(total, 1), 0.0).mean(axis=1)

    delta = macro_f1(after) - macro_f1(before)
    return [round(float(q), 4) for q in np.percentile(delta, [5, 95])]


@dataclass(frozen=True)
class Slice:
    """The test movies of one genre, split into the ones corrected and the ones scored."""

    genre: str
    candidates: dict  # genre → its test movies and the default's macro-F1 on them
    movies: list[MovieRecord]
    corrected: list[MovieRecord]
    scored: list[MovieRecord]  # the slice's movies left after the corrections
    rest: list[MovieRecord]  # every test movie outside the slice


@dataclass(frozen=True)
class Scoring:
    """Before (the import's predictions) and after (the new version) on both parts."""

    versions: dict  # "before" / "after" → version name
    scores: dict  # (part, "before" / "after") → `summary`
    intervals: dict  # part → `macro_f1_delta_interval`
    n_rescored: int  # items re-scored by the active version to check the import's predictions
    rescore_diff: float  # the largest difference found there


def choose_slice(
    args: argparse.Namespace, test: list[MovieRecord], probs: np.ndarray, thresholds: np.ndarray
) -> Slice:
    """`--genre`'s slice, else the weakest genre's; `--corrections` of it sampled to correct."""
    genre, candidates = weakest_genre(test, probs, thresholds, args.corrections + args.min_eval)
    genre = args.genre or genre
    movies = [r for r in test if genre in r.genres]
    corrected = random.Random(args.seed).sample(movies, args.corrections)
    corrected_ids = {r.imdb_id for r in corrected}
    scored = [r for r in movies if r.imdb_id not in corrected_ids]
    rest = [r for r in test if genre not in r.genres]
    return Slice(genre, candidates, movies, corrected, scored, rest)


def score_versions(
    review,
    job: JobRun,
    chosen: Slice,
    ids: dict[str, int],
    test: list[MovieRecord],
    imported: tuple[np.ndarray, np.ndarray],
) -> Scoring:
    """The import's predictions (`imported`: probabilities in `test` order, thresholds) and
    the job's version on the slice's scored movies and on the rest, with bootstrap intervals
    of the change."""
    settings = review.studio.settings
    probs, thresholds = imported
    evaluated = chosen.scored + chosen.rest
    rows = [ids[r.imdb_id] for r in evaluated]
    after_name, after_probs, after_thresholds = served_probs(
        job.version, settings, review.store, rows
    )
    position = {r.imdb_id: i for i, r in enumerate(test)}
    before_probs = probs[[position[r.imdb_id] for r in evaluated]]
    check = min(len(rows), 32)
    before_name, rescored, _ = served_probs(
        settings.default_model_dir, settings, review.store, rows[:check]
    )
    rescore_diff = float(np.abs(rescored - before_probs[:check]).max())
    scores, intervals = {}, {}
    for part, part_rows in (("slice", slice(0, len(chosen.scored))),
                            ("rest", slice(len(chosen.scored), None))):  # fmt: skip
        labels = labels_of(evaluated[part_rows])
        scores[part, "before"] = summary(labels, before_probs[part_rows], thresholds)
        scores[part, "after"] = summary(labels, after_probs[part_rows], after_thresholds)
        intervals[part] = macro_f1_delta_interval(
            labels,
            (before_probs[part_rows] >= thresholds).astype(int),
            (after_probs[part_rows] >= after_thresholds).astype(int),
        )
    versions = {"before": before_name, "after": after_name}
    return Scoring(versions, scores, intervals, check, rescore_diff)


def run(args: argparse.Namespace) -> dict:
    """The loop in a scratch studio: import, corrections, one job, scoring; its report."""
    test = select_split(load_records(args.data), "test")
    phases = {}
    with tempfile.TemporaryDirectory(prefix="mmgui-loop-") as tmp:
        work = Path(tmp)
        settings = scratch_settings(work)
        started = time.perf_counter()
        review = open_scratch_review(settings)
        import_summary = review.catalogue.import_catalogue(
            write_catalogue(test, work / "catalogue.csv")
        )
        imported = {"new": import_summary.new, "bad_rows": len(import_summary.bad)}
        phases["import"] = time.perf_counter() - started
        probs, thresholds = import_probs(review, test)
        chosen = choose_slice(args, test, probs, thresholds)
        ids = item_ids(review.store)
        decisions = decide_true_genres(review.store, ids, chosen.corrected)
        job = run_finetune_job(review, args.data, **dict(args.set))
        scoring_started = time.perf_counter()
        scoring = score_versions(review, job, chosen, ids, test, (probs, thresholds))
        phases["scoring"] = time.perf_counter() - scoring_started
        seconds = time.perf_counter() - started
        review.store.close()
    return report(args, chosen, scoring, decisions, job, imported, phases, seconds)


def report(
    args: argparse.Namespace,
    chosen: Slice,
    scoring: Scoring,
    decisions: Decisions,
    job: JobRun,
    imported: dict,
    phases: dict[str, float],
    seconds: float,
) -> dict:
    """The printed JSON object (`imported`: the import's new and bad rows; `phases`: the
    import's and the scoring's wall seconds)."""
    scores, intervals = scoring.scores, scoring.intervals
    return {
        "benchmark": "loop",
        "slice": _slice_report(args, chosen),
        "n_corrections": len(chosen.corrected),
        "decisions": {"correct": decisions.corrected, "accept": decisions.accepted},
        "n_rest": len(chosen.rest),
        "slice_macro_f1_before": scores["slice", "before"]["macro_f1"],
        "slice_macro_f1_after": scores["slice", "after"]["macro_f1"],
        "rest_macro_f1_before": scores["rest", "before"]["macro_f1"],
        "rest_macro_f1_after": scores["rest", "after"]["macro_f1"],
        "macro_f1_delta_90pct_bootstrap": {
            "slice": intervals["slice"],
            "rest": intervals["rest"],
            "note": "paired bootstrap over the evaluated movies: how far sampling alone moves "
            "the change in macro-F1 (few positives per genre make it wide)",
        },
        "slice_before": scores["slice", "before"],
        "slice_after": scores["slice", "after"],
        "rest_before": scores["rest", "before"],
        "rest_after": scores["rest", "after"],
        "versions": scoring.versions,
        "scoring": (
            "ONNX Runtime predict_many with each version's stored thresholds: before = the "
            "active version's predictions recorded at import; after = the new version on the "
            f"same items; {scoring.n_rescored} items re-scored by the active version differ "
            f"from the import's by at most {scoring.rescore_diff:.1e}"
        ),
        "flagged_by_job": job.flagged,
        "finetune_settings": job.meta_finetune["settings"],
        "job": _job_report(job),
        "phases_seconds": {
            "import": round(phases["import"], 1),
            "decisions": round(decisions.seconds, 1),
            "job": round(job.seconds, 1),
            "scoring": round(phases["scoring"], 1),
        },
        "imported": imported,
        "seconds": round(seconds, 1),
        "device": job.device,
        "machine": machine(),
        "timing_note": "wall times on a CPU shared with other work: expect ±30 % between runs",
    }


def _slice_report(args: argparse.Namespace, chosen: Slice) -> dict:
    chosen_by = "--genre" if args.genre else (
        f"lowest default macro-F1 on its test movies among genres with at least "
        f"{args.corrections + args.min_eval} test movies"
    )  # fmt: skip
    return {
        "genre": chosen.genre,
        "definition": f"test movies whose true genres include {chosen.genre}",
        "chosen_by": chosen_by,
        "candidates": chosen.candidates,
        "n_items": len(chosen.movies),
        "n_corrected": len(chosen.corrected),
        "n_evaluated": len(chosen.scored),
        "sample_seed": args.seed,
    }


def _job_report(job: JobRun) -> dict:
    finetune = job.meta_finetune
    return {
        "seconds": round(job.seconds, 1),
        "finetune_seconds": finetune["seconds"],
        "best_epoch": finetune["best_epoch"],
        "n_train_corrections": finetune["n_train_corrections"],
        "n_eval_corrections": finetune["n_eval_corrections"],
        "n_replay": finetune["n_replay"],
        "worker": "in-process (Worker(settings).run(once=True))",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT.parent / "shared/data/movies")
    parser.add_argument("--corrections", type=int, default=300)
    parser.add_argument("--min-eval", type=int, default=100, help="slice movies left to score")
    parser.add_argument("--genre", choices=GENRES, help="the slice's genre (default: weakest)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", type=setting,
        help="a FinetuneSettings field for the job, e.g. --set lr=3e-4 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="which slice movies are corrected")
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
