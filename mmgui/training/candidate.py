"""A finetuning candidate and how it is judged against the active version.

The job's records (`Parts`), the trained `Candidate`, and its `Scores`: calibrated on the
evaluation data, then scored with the active version as served on the same data (see
`training.finetune` for the data). A candidate is flagged when it is worse than the active
version on `eval` by more than `WORSE_AUC` macro ROC-AUC or `WORSE_F1` micro-F1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mmgui.data.kaggle import MovieRecord
from mmgui.genres import GENRES
from mmgui.metrics import evaluate_probs, sigmoid
from mmgui.nets.genre_model import GenreHead, HeadConfig
from mmgui.training.calibration import fit_temperature, tune_thresholds
from mmgui.training.data import Encoders
from mmgui.training.heads import FeatureSet, HeadResult, head_logits
from mmgui.versions import VersionCard

WORSE_AUC = 0.002  # a candidate this much below the active macro ROC-AUC is flagged
WORSE_F1 = 0.005  # ... or this much below its micro-F1


@dataclass(frozen=True)
class Parts:
    """The records of one job: corrections split deterministically, replay, and the original
    validation and test splits without any corrected item."""

    train_corrections: list[MovieRecord]
    eval_corrections: list[MovieRecord]
    replay: list[MovieRecord]
    val: list[MovieRecord]
    test: list[MovieRecord]

    @property
    def evaluation(self) -> list[MovieRecord]:
        return self.eval_corrections + self.val


@dataclass
class Candidate:
    """A trained candidate head and how to compute features as its backbones see them."""

    result: HeadResult
    features: Callable[[list[MovieRecord]], FeatureSet]
    eval_set: FeatureSet
    tuned_encoders: Encoders | None  # full mode: the finetuned backbones
    distributed: dict | None


@dataclass(frozen=True)
class Scores:
    temperature: float
    thresholds: np.ndarray
    untuned: list[str]
    retuned: list[str]
    metrics: dict  # candidate: eval (+ "corrections", "test")
    active_metrics: dict  # the active version on the same data


def score_candidate(
    card: VersionCard,
    head_config: HeadConfig,
    init: dict,
    candidate: Candidate,
    active_features: Callable[[list[MovieRecord]], FeatureSet] | None,
    parts: Parts,
    margin: float,
) -> Scores:
    """Calibrate the candidate on the evaluation data, then score it and the active version as
    served (its head, temperature and thresholds) on the same data: eval, the held-out
    corrections alone, and the original test split."""
    head, eval_set = candidate.result.head, candidate.eval_set
    logits = head_logits(head, eval_set.only(head_config.modalities))
    temperature = fit_temperature(logits, eval_set.labels)
    probs = _calibrated(head, eval_set, head_config, temperature)
    thresholds, untuned, retuned = anchored_thresholds(
        eval_set.labels, probs, temperature, card, margin
    )
    active_head = GenreHead(head_config)
    active_head.load_state_dict(init)
    active_thresholds = _thresholds(card)
    active_eval = active_features(parts.evaluation) if active_features else eval_set
    active_probs = _calibrated(active_head, active_eval, head_config, card.temperature)
    metrics = evaluate_probs(eval_set.labels, probs, thresholds)
    active_metrics = evaluate_probs(active_eval.labels, active_probs, active_thresholds)
    if parts.eval_corrections:
        n = len(parts.eval_corrections)
        metrics["corrections"] = evaluate_probs(eval_set.labels[:n], probs[:n], thresholds)
        active_metrics["corrections"] = evaluate_probs(
            eval_set.labels[:n], active_probs[:n], active_thresholds
        )
    test_set = candidate.features(parts.test)
    active_test = active_features(parts.test) if active_features else test_set
    test_probs = _calibrated(head, test_set, head_config, temperature)
    metrics["test"] = evaluate_probs(test_set.labels, test_probs, thresholds)
    active_test_probs = _calibrated(active_head, active_test, head_config, card.temperature)
    active_metrics["test"] = evaluate_probs(
        active_test.labels, active_test_probs, active_thresholds
    )
    return Scores(temperature, thresholds, untuned, retuned, metrics, active_metrics)


def anchored_thresholds(
    labels: np.ndarray, probs: np.ndarray, temperature: float, card: VersionCard, margin: float
) -> tuple[np.ndarray, list[str], list[str]]:
    """Per-genre thresholds on `probs` (calibrated at `temperature`), the genres too rare to
    tune, and the genres retuned. A genre keeps the active version's threshold, carried through
    the change of temperature, unless the threshold tuned on these labels gives it an F1 more
    than `margin` higher here.

    Best-F1 thresholds of rare genres jump between near-equal optima on a few hundred items,
    so retuning them all on every job moves decisions on the whole catalogue by noise.
    """
    tuned, untuned = tune_thresholds(labels, probs)
    active = np.clip(_thresholds(card), 1e-6, 1 - 1e-6)
    active_logit = np.log(active) - np.log1p(-active)
    carried = sigmoid(active_logit * card.temperature / temperature)
    chosen, retuned = carried.copy(), []
    for g, genre in enumerate(GENRES):
        if genre in untuned:
            continue
        gain = _f1(labels[:, g], probs[:, g] >= tuned[g]) - _f1(
            labels[:, g], probs[:, g] >= carried[g]
        )
        if gain > margin:
            chosen[g] = tuned[g]
            retuned.append(genre)
    return chosen, untuned, retuned


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    true_pos = float((y_true * y_pred).sum())
    return 2 * true_pos / (float(y_true.sum()) + float(y_pred.sum()) or 1.0)


def _calibrated(
    head: GenreHead, data: FeatureSet, config: HeadConfig, temperature: float
) -> np.ndarray:
    return sigmoid(head_logits(head, data.only(config.modalities)) / temperature)


def _thresholds(card: VersionCard) -> np.ndarray:
    return np.array([card.thresholds[g] for g in GENRES])


def worse_than(candidate: dict, active: dict) -> str | None:
    """Why the candidate looks worse than the active version on the same data, or None."""
    reasons = []
    if candidate["macro_roc_auc"] < active["macro_roc_auc"] - WORSE_AUC:
        reasons.append(
            f"macro ROC-AUC {candidate['macro_roc_auc']:.4f} < {active['macro_roc_auc']:.4f}"
        )
    if candidate["micro_f1"] < active["micro_f1"] - WORSE_F1:
        reasons.append(f"micro-F1 {candidate['micro_f1']:.4f} < {active['micro_f1']:.4f}")
    return "; ".join(reasons) or None
