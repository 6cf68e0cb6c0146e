"""Post-hoc decisions tuned on the validation split: a temperature and per-genre thresholds.

The temperature rescales the fused logits so the probabilities are calibrated (lowest BCE on
val); thresholds are then chosen per genre on the calibrated probabilities to maximise that
genre's F1. A genre with too few validation positives keeps a fixed threshold, and the
version records which genres those are.
"""

from __future__ import annotations

import numpy as np

MIN_POSITIVES_FOR_TUNING = 3
FALLBACK_THRESHOLD = 0.5


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The T > 0 minimising BCE of sigmoid(logits / T) against y_true (grid, then refine)."""
    logits = np.asarray(logits, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.float64)

    def loss(temperature: float) -> float:
        z = logits / temperature
        return float(np.mean(np.logaddexp(0.0, z) - y_true * z))

    grid = np.exp(np.linspace(np.log(0.25), np.log(4.0), 81))
    best = min(grid, key=loss)
    fine = best * np.exp(np.linspace(-0.05, 0.05, 41))
    return float(min(fine, key=loss))


def best_f1_threshold(y_true: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of `probs >= threshold` for one genre.

    The threshold is the midpoint between the cut's probability and the next lower one, so it
    generalises a little better than the exact score of one item.
    """
    order = np.argsort(-probs, kind="stable")
    sorted_probs, sorted_true = probs[order], y_true[order]
    true_pos = np.cumsum(sorted_true)
    n_pos = sorted_true.sum()
    predicted = np.arange(1, len(probs) + 1)
    f1 = 2 * true_pos / (predicted + n_pos)
    # Only cut where the next probability differs, so ties fall on one side together.
    distinct = np.r_[sorted_probs[1:] < sorted_probs[:-1], True]
    f1 = np.where(distinct, f1, -1.0)
    k = int(np.argmax(f1))
    lower = sorted_probs[k + 1] if k + 1 < len(probs) else 0.0
    return float((sorted_probs[k] + lower) / 2), float(f1[k])


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per-genre thresholds maximising F1 on val, and the genres that kept the fallback."""
    from mmgui.genres import GENRES

    thresholds = np.full(probs.shape[1], FALLBACK_THRESHOLD)
    untuned: list[str] = []
    for g in range(probs.shape[1]):
        if y_true[:, g].sum() < MIN_POSITIVES_FOR_TUNING:
            untuned.append(GENRES[g])
            continue
        thresholds[g], _ = best_f1_threshold(y_true[:, g], probs[:, g])
    return thresholds, untuned
