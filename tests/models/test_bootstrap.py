"""The fast bootstrap: weighted metrics equal the plain ones, resample by resample."""

from __future__ import annotations

import numpy as np
import pytest

from customer_ml.models import metrics as M
from customer_ml.models.bootstrap import (
    BOOT_METRICS,
    bootstrap_metrics,
    resample_weights,
    weighted_metrics,
)

EXACT = {"roc_auc", "pr_auc", "brier", "normalized_gini"}


def data(task: str, n: int, ties: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    p = rng.random(n) * 0.7 + 0.3 * y
    if ties:
        p = np.round(p, 1)
    if task == "ltv":
        y = y * rng.gamma(2.0, 50.0, n)
    return y, p


def plain(task: str, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return M.churn_metrics(y, p) if task == "churn" else M.ltv_metrics(y, p)


@pytest.mark.parametrize("task", ["churn", "ltv"])
@pytest.mark.parametrize("ties", [False, True])
def test_unit_weights_equal_the_plain_metrics(task: str, ties: bool) -> None:
    y, p = data(task, 3001, ties)
    got = weighted_metrics(task, y, p, np.ones(len(y)))
    want = plain(task, y, p)
    for m in BOOT_METRICS[task]:
        assert got[m][0] == pytest.approx(want[m], rel=1e-12), m


@pytest.mark.parametrize("task", ["churn", "ltv"])
@pytest.mark.parametrize("ties", [False, True])
def test_resample_weights_equal_the_metric_of_the_resample(task: str, ties: bool) -> None:
    y, p = data(task, 800, ties, seed=1)
    rng = np.random.default_rng(5)
    for _ in range(5):
        idx = rng.integers(0, len(y), len(y))
        w = np.bincount(idx, minlength=len(y))
        got = weighted_metrics(task, y, p, w)
        # a resample lists each drawn customer `w` times, next to each other in index order
        order = np.sort(idx)
        want = plain(task, y[order], p[order])
        for m in BOOT_METRICS[task]:
            tol = 1e-12 if m in EXACT else 0.02  # top-k shares differ by at most one customer
            assert got[m][0] == pytest.approx(want[m], rel=tol, abs=tol), m


def test_bootstrap_matches_the_naive_loop_and_is_seeded() -> None:
    y, p = data("churn", 2000, ties=False, seed=2)
    fast = bootstrap_metrics("churn", y, p, n_boot=300, rng=np.random.default_rng(0))
    again = bootstrap_metrics("churn", y, p, n_boot=300, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(fast["roc_auc"], again["roc_auc"])
    rng = np.random.default_rng(1)
    naive = []
    for _ in range(300):
        i = rng.integers(0, len(y), len(y))
        naive.append(M.churn_metrics(y[i], p[i])["roc_auc"])
    assert fast["roc_auc"].mean() == pytest.approx(np.mean(naive), abs=0.003)
    assert fast["roc_auc"].std() == pytest.approx(np.std(naive), rel=0.2)


def test_resample_weights_blocks_cover_n_boot_and_each_row_sums_to_n() -> None:
    blocks = list(resample_weights(1000, 25, np.random.default_rng(0), block_cells=10_000))
    assert [b.shape for b in blocks] == [(10, 1000), (10, 1000), (5, 1000)]
    assert all((b.sum(axis=1) == 1000).all() for b in blocks)
