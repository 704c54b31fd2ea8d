"""Backtest metrics: hand-computed values and a reference implementation of the Gini."""

from __future__ import annotations

import numpy as np
import pytest

from customer_ml.models.metrics import (
    bootstrap_ci,
    calibration_bins,
    churn_metrics,
    decile_table,
    ltv_metrics,
    normalized_gini,
    top_decile_lift,
    top_share_captured,
)


def kaggle_gini(actual: np.ndarray, pred: np.ndarray) -> float:
    """The well-known loop-free Kaggle formulation (no ties in `pred`)."""
    order = np.argsort(-pred)
    a = actual[order]
    n = len(a)
    g = (np.cumsum(a) / a.sum()).sum() / n - (n + 1) / (2 * n)
    perfect = np.sort(actual)[::-1]
    gp = (np.cumsum(perfect) / perfect.sum()).sum() / n - (n + 1) / (2 * n)
    return g / gp


def test_normalized_gini_matches_reference_without_ties() -> None:
    rng = np.random.default_rng(0)
    actual = rng.gamma(0.5, 100, 2000) * (rng.random(2000) < 0.4)
    pred = actual + rng.normal(0, 80, 2000)
    assert normalized_gini(actual, pred) == pytest.approx(kaggle_gini(actual, pred), abs=1e-3)


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        ([4.0, 3.0, 2.0, 1.0], 1.0),  # perfect order
        ([1.0, 2.0, 3.0, 4.0], -1.0),  # reversed
        ([1.0, 1.0, 1.0, 1.0], 0.0),  # all tied: no information
    ],
)
def test_normalized_gini_edges(pred, expected) -> None:
    actual = np.array([40.0, 30.0, 20.0, 10.0])
    assert normalized_gini(actual, np.array(pred)) == pytest.approx(expected)


def test_tied_scores_earn_nothing_from_row_order() -> None:
    actual = np.array([0.0, 0.0, 10.0, 0.0])
    a = normalized_gini(actual, np.array([1.0, 1.0, 1.0, 0.0]))
    b = normalized_gini(actual[[2, 1, 0, 3]], np.array([1.0, 1.0, 1.0, 0.0]))
    assert a == pytest.approx(b)


def test_churn_metrics_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    m = churn_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(15 / 16)  # 0.7 is beaten by one negative (0.8)
    assert m["brier"] == pytest.approx((0.01 + 0.64 + 0.09 + 7 * 0.01) / 10)
    assert top_decile_lift(y, p) == pytest.approx(1 / 0.2)  # top 1 of 10 is a churner
    assert m["positive_rate"] == pytest.approx(0.2)


def test_one_class_gives_nan_not_an_error() -> None:
    m = churn_metrics(np.zeros(5), np.linspace(0, 1, 5))
    assert np.isnan(m["roc_auc"]) and np.isnan(m["pr_auc"])


def test_top_share_and_deciles() -> None:
    actual = np.arange(1, 21, dtype=float)  # 1..20, total 210
    pred = actual.copy()
    assert top_share_captured(actual, pred, 0.10) == pytest.approx((20 + 19) / 210)
    assert top_share_captured(actual, pred, 0.20) == pytest.approx((20 + 19 + 18 + 17) / 210)
    dec = decile_table(actual, pred)
    assert list(dec["decile"]) == list(range(1, 11))
    assert dec.loc[0, "actual"] == pytest.approx(19.5)  # decile 1 = the highest predictions
    m = ltv_metrics(actual, pred * 1.1)
    assert m["total_error"] == pytest.approx(0.1)
    assert m["decile_mape"] == pytest.approx(0.1)
    assert m["spearman"] == pytest.approx(1.0)


def test_calibration_bins_of_a_calibrated_score() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(float)
    bins = calibration_bins(y, p)
    assert len(bins) == 10 and bins["n"].sum() == 50_000
    np.testing.assert_allclose(bins["observed"], bins["predicted"], atol=0.02)


def test_bootstrap_ci_is_seeded_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(2)

    def draw(n: int):
        p = rng.random(n)
        return (rng.random(n) < p).astype(float), p

    def auc(y, p):
        return churn_metrics(y, p)["roc_auc"]

    y, p = draw(500)
    est, lo, hi = bootstrap_ci(auc, y, p, n_boot=100, seed=3)
    assert lo < est < hi
    assert bootstrap_ci(auc, y, p, n_boot=100, seed=3) == (est, lo, hi)
    y2, p2 = draw(5000)
    _, lo2, hi2 = bootstrap_ci(auc, y2, p2, n_boot=100, seed=3)
    assert hi2 - lo2 < (hi - lo) / 2
