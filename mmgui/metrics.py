"""The metric definitions used everywhere (DESIGN.md, "Metrics"), and `sigmoid`, how a logit
becomes the probability they score.

Ranking figures (ROC-AUC, average precision) are averaged over the genres that have both
positives and negatives in the evaluated set (`genres_scored`); `macro_roc_auc_supported` is
the same over genres with at least `min_support` positives, the stable figure on this
Comedy/Drama-heavy data. Decision figures are computed at the given per-genre thresholds and
at 0.5 (to compare with the sources).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from mmgui.genres import GENRES

# The headline figures, in the order reports print them.
SUMMARY_KEYS = (
    "macro_roc_auc",
    "macro_roc_auc_supported",
    "micro_ap",
    "macro_ap",
    "micro_f1",
    "macro_f1",
    "samples_f1",
    "hamming_loss",
)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The probability of each logit, elementwise, in the logits' dtype."""
    return 1 / (1 + np.exp(-logits))


def decision_metrics(y_true: np.ndarray, y_pred: np.ndarray, scored: list[int]) -> dict:
    """micro/macro/samples F1, micro precision/recall and Hamming loss of 0/1 predictions.

    micro figures and Hamming loss use all genres; macro-F1 averages the `scored` genres.
    """
    true_pos = float((y_true * y_pred).sum())
    predicted, actual = float(y_pred.sum()), float(y_true.sum())
    precision = true_pos / predicted if predicted else 0.0
    recall = true_pos / actual if actual else 0.0
    return {
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(
            np.mean([f1_score(y_true[:, g], y_pred[:, g], zero_division=0) for g in scored])
        )
        if scored
        else float("nan"),
        "samples_f1": float(f1_score(y_true, y_pred, average="samples", zero_division=0)),
        "micro_precision": precision,
        "micro_recall": recall,
        "hamming_loss": float((y_true != y_pred).mean()),
    }


def evaluate_probs(
    y_true: np.ndarray,
    probs: np.ndarray,
    thresholds: np.ndarray | None = None,
    min_support: int = 20,
) -> dict:
    """All metrics of (N, 18) 0/1 labels against (N, 18) probabilities, as a JSON-ready dict."""
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if thresholds is None:
        thresholds = np.full(len(GENRES), 0.5)
    support = y_true.sum(axis=0)
    scored = [g for g in range(len(GENRES)) if 0 < support[g] < len(y_true)]
    supported = [g for g in scored if support[g] >= min_support]
    auc = {g: float(roc_auc_score(y_true[:, g], probs[:, g])) for g in scored}
    ap = {g: float(average_precision_score(y_true[:, g], probs[:, g])) for g in scored}
    y_pred = (probs >= thresholds).astype(int)
    at_half = (probs >= 0.5).astype(int)
    per_genre = {
        GENRES[g]: {
            "support": int(support[g]),
            "roc_auc": auc.get(g),
            "ap": ap.get(g),
            "f1": float(f1_score(y_true[:, g], y_pred[:, g], zero_division=0)),
            "threshold": float(thresholds[g]),
        }
        for g in range(len(GENRES))
    }
    flat = np.ix_(range(len(y_true)), scored)
    return {
        "n_items": len(y_true),
        "macro_roc_auc": _mean(auc.values()),
        "macro_roc_auc_supported": _mean(auc[g] for g in supported),
        "micro_ap": float(average_precision_score(y_true[flat].ravel(), probs[flat].ravel()))
        if scored
        else float("nan"),
        "macro_ap": _mean(ap.values()),
        **decision_metrics(y_true, y_pred, scored),
        "at_0.5": decision_metrics(y_true, at_half, scored),
        "genres_scored": [GENRES[g] for g in scored],
        "genres_supported": [GENRES[g] for g in supported],
        "per_genre": per_genre,
    }


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else float("nan")
