"""Fast bootstrap of the backtest metrics: resamples as weight rows, metrics in O(n) each.

A bootstrap resample of n customers is a row of counts w (how often each customer was drawn).
With the customers sorted once by prediction, ROC-AUC, PR-AUC, Brier, top-decile lift,
normalized Gini and top-k% captured of the resample are weighted sums and cumulative sums
over that order, so a block of resamples is a few numpy operations on a (B, n) matrix: no
re-sorting, no per-resample Python. With all weights 1 they equal the functions in
`customer_ml.models.metrics` (tests/models/test_bootstrap.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["BOOT_METRICS", "bootstrap_metrics", "resample_weights", "weighted_metrics"]

BOOT_METRICS = {
    "churn": ("roc_auc", "pr_auc", "brier", "top_decile_lift"),
    "ltv": ("normalized_gini", "top10_captured", "top20_captured"),
}


def resample_weights(
    n: int, n_boot: int, rng: np.random.Generator, *, block_cells: int = 4_000_000
) -> Iterator[np.ndarray]:
    """Blocks of multinomial resample counts, shape (b, n), b * n <= block_cells."""
    b = max(1, block_cells // max(n, 1))
    done = 0
    while done < n_boot:
        k = min(b, n_boot - done)
        counts = [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(k)]
        yield np.stack(counts).astype(float)
        done += k


def _sorted(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by descending score (stable) and the start of each run of tied scores."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return order, starts


def _grouped(M: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Column sums within each run of tied scores (a no-op without ties)."""
    return M if len(starts) == M.shape[1] else np.add.reduceat(M, starts, axis=1)


def _top(W: np.ndarray, cum_w: np.ndarray, v: np.ndarray, share: float) -> np.ndarray:
    """Per row, the weighted sum of `v` over the top `share` of the (sorted) weight: whole
    customers while the cumulative weight stays within it, then part of the next one."""
    k = np.ceil(share * cum_w[:, -1])
    full = cum_w <= k[:, None]
    n_full = full.sum(axis=1)
    j = np.minimum(n_full, W.shape[1] - 1)  # the first customer not wholly inside
    rows = np.arange(W.shape[0])
    before = np.where(j > 0, cum_w[rows, j - 1], 0.0)
    part = np.clip(k - before, 0, W[rows, j]) * (n_full < W.shape[1])
    return (full * W) @ v + part * v[j]


def _churn(
    y: np.ndarray, p: np.ndarray, starts: np.ndarray, W: np.ndarray
) -> dict[str, np.ndarray]:
    """Data sorted by descending p, W's columns in that order."""
    cum_w = np.cumsum(W, axis=1)
    n = cum_w[:, -1]
    n_pos = W @ y
    n_neg = n - n_pos
    pos = _grouped(W * y, starts)
    cum_pos = np.cumsum(pos, axis=1)
    cum_all = cum_w[:, np.r_[starts[1:] - 1, len(y) - 1]]
    neg = _grouped(W, starts) - pos
    cum_neg = cum_all - cum_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        beaten = n_pos * n_neg - np.einsum("ij,ij->i", pos, cum_neg - 0.5 * neg)
        auc = beaten / (n_pos * n_neg)
        ap = np.einsum("ij,ij->i", pos, cum_pos / np.maximum(cum_all, 1e-300)) / n_pos
        lift = (_top(W, cum_w, y, 0.1) / np.ceil(0.1 * n)) / (n_pos / n)
    return {
        "roc_auc": auc,
        "pr_auc": ap,
        "brier": (W @ (p - y) ** 2) / n,
        "top_decile_lift": lift,
    }


def _lorenz(a: np.ndarray, starts: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Gini of `a` in its given order (ties of the score averaged), per weight row."""
    size = _grouped(W, starts)
    value = _grouped(W * a, starts)
    cum_a = np.cumsum(value, axis=1)
    n, total = size.sum(axis=1), cum_a[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        area = np.einsum("ij,ij->i", size, 2 * cum_a - value) / 2
        return area / (n * total) - 0.5


def _ltv(a: np.ndarray, p: np.ndarray, starts: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """Data sorted by descending p, W's columns in that order."""
    perfect, perfect_starts = _sorted(a)
    cum_w, total = np.cumsum(W, axis=1), W @ a
    with np.errstate(invalid="ignore", divide="ignore"):
        gini = _lorenz(a, starts, W) / _lorenz(a[perfect], perfect_starts, W[:, perfect])
        out = {"normalized_gini": gini}
        for share, name in ((0.1, "top10_captured"), (0.2, "top20_captured")):
            out[name] = _top(W, cum_w, a, share) / total
    return out


def weighted_metrics(
    task: str, y: np.ndarray, p: np.ndarray, W: np.ndarray
) -> dict[str, np.ndarray]:
    """The metrics of BOOT_METRICS[task] for each weight row of W (shape (b, len(y)))."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    order, starts = _sorted(p)
    W = np.atleast_2d(np.asarray(W, float))[:, order]
    fn = _churn if task == "churn" else _ltv
    return fn(y[order], p[order], starts, W)


def bootstrap_metrics(
    task: str,
    y: np.ndarray,
    p: np.ndarray,
    *,
    n_boot: int,
    rng: np.random.Generator,
    weights: list[np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """`n_boot` percentile-bootstrap draws of each metric of BOOT_METRICS[task].

    Resample counts are exchangeable, so they are applied directly in the sorted order (no
    re-sorting or gathering per resample). Reusing `weights` across candidates saves drawing
    them, but the draws are not paired: weight column j is a different customer for each
    candidate, so the CIs are per candidate, not for differences between candidates."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    order, starts = _sorted(p)
    y, p = y[order], p[order]
    fn = _churn if task == "churn" else _ltv
    blocks = weights if weights is not None else resample_weights(len(y), n_boot, rng)
    parts = [fn(y, p, starts, W) for W in blocks]
    if not parts:
        return {m: np.array([]) for m in BOOT_METRICS[task]}
    return {m: np.concatenate([d[m] for d in parts]) for m in BOOT_METRICS[task]}
