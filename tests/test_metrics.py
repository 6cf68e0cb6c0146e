"""Metrics, calibration and thresholds against small cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmgui.genres import GENRES
from mmgui.metrics import evaluate_probs, sigmoid
from mmgui.training.calibration import best_f1_threshold, fit_temperature, tune_thresholds


def _case() -> tuple[np.ndarray, np.ndarray]:
    """4 movies; genres 0, 1 and 2 carry labels, the other 15 have no positives."""
    y = np.zeros((4, len(GENRES)), dtype=int)
    p = np.zeros((4, len(GENRES)))
    y[:, 0], p[:, 0] = [1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]
    y[:, 1], p[:, 1] = [1, 1, 0, 0], [0.6, 0.4, 0.7, 0.2]
    y[:, 2], p[:, 2] = [0, 0, 0, 1], [0.0, 0.0, 0.0, 0.9]
    return y, p


def test_ranking_metrics_match_the_hand_computed_values() -> None:
    y, p = _case()
    result = evaluate_probs(y, p, min_support=2)
    # AUC: genre 0 wins 3 of 4 positive/negative pairs, genre 1 2 of 4, genre 2 all.
    assert result["per_genre"]["Action"]["roc_auc"] == pytest.approx(0.75)
    assert result["per_genre"]["Adventure"]["roc_auc"] == pytest.approx(0.5)
    assert result["macro_roc_auc"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert result["macro_roc_auc_supported"] == pytest.approx((0.75 + 0.5) / 2)
    # AP: genre 0 precisions at its positives 1/1, 2/3; genre 1: 1/2, 2/3; genre 2: 1.
    assert result["macro_ap"] == pytest.approx(((1 + 2 / 3) / 2 + (1 / 2 + 2 / 3) / 2 + 1) / 3)
    assert result["genres_scored"] == ["Action", "Adventure", "Animation"]
    assert result["genres_supported"] == ["Action", "Adventure"]
    assert result["per_genre"]["Drama"]["roc_auc"] is None
    assert result["n_items"] == 4


def test_decision_metrics_at_one_half_match_the_hand_computed_values() -> None:
    y, p = _case()
    result = evaluate_probs(y, p)
    # At 0.5 genre 0 predicts items 0, 1; genre 1 items 0, 2; genre 2 item 3.
    assert result["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 2))
    assert result["macro_f1"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert result["samples_f1"] == pytest.approx((1 + 0 + 0 + 1) / 4)
    assert result["hamming_loss"] == pytest.approx(4 / (4 * 18))
    assert result["micro_precision"] == pytest.approx(3 / 5)
    assert result["at_0.5"] == {k: result[k] for k in result["at_0.5"]}
    assert math.isnan(result["macro_roc_auc_supported"])  # no genre has 20 positives


def test_thresholds_change_the_decisions_not_the_ranking() -> None:
    y, p = _case()
    thresholds = np.full(len(GENRES), 0.5)
    thresholds[0] = 0.85  # genre 0 now predicts only item 0: precision 1, recall 1/2
    result = evaluate_probs(y, p, thresholds)
    assert result["per_genre"]["Action"]["f1"] == pytest.approx(2 / 3)
    assert result["macro_roc_auc"] == evaluate_probs(y, p)["macro_roc_auc"]
    assert result["at_0.5"]["macro_f1"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)


def test_best_f1_threshold_cuts_between_scores() -> None:
    y = np.array([1, 1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    threshold, f1 = best_f1_threshold(y, p)
    # Taking the top 4 gives precision 3/4, recall 1: F1 6/7, the best cut; midpoint 0.4.
    assert f1 == pytest.approx(6 / 7)
    assert threshold == pytest.approx(0.4)


def test_genres_with_too_few_val_positives_keep_the_fallback() -> None:
    y, p = _case()
    thresholds, untuned = tune_thresholds(y, p)
    assert "Action" in untuned  # 2 positives < 3
    assert set(untuned) == set(GENRES)
    assert (thresholds == 0.5).all()


def test_temperature_recovers_a_known_scale() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, size=(20000, 1))
    y = (rng.random(true_logits.shape) < sigmoid(true_logits)).astype(float)
    # The model is over-confident by a factor of 2: the fitted temperature must undo it.
    assert fit_temperature(true_logits * 2, y) == pytest.approx(2.0, rel=0.05)
