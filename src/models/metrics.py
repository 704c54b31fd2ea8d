"""Backtest metrics for churn and LTV, with bootstrap confidence intervals.

Churn: ROC-AUC, PR-AUC (average precision), Brier score, top-decile lift, calibration bins.
LTV: normalized Gini, Spearman correlation, decile MAPE, relative error of the total, and the
share of realised future revenue captured by the top 10 % / 20 % by prediction.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

__all__ = [
    "bootstrap_ci",
    "calibration_bins",
    "churn_metrics",
    "decile_table",
    "ltv_metrics",
    "normalized_gini",
    "top_decile_lift",
    "top_share_captured",
]

Metric = Callable[[np.ndarray, np.ndarray], float]


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    """Positive rate among the 10 % highest scores, over the overall positive rate."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    k = max(1, int(np.ceil(0.1 * len(y))))
    top = np.argsort(-p, kind="stable")[:k]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed rate in equal-count bins of the prediction."""
    df = pd.DataFrame({"y": np.asarray(y, float), "p": np.asarray(p, float)})
    df["bin"] = pd.qcut(df["p"].rank(method="first"), bins, labels=False)
    out = df.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
    return out.reset_index()


def churn_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """`y` = 1 for churned, `p` = predicted churn probability."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    one_class = len(np.unique(y)) < 2
    return {
        "roc_auc": float("nan") if one_class else float(skm.roc_auc_score(y, p)),
        "pr_auc": float("nan") if one_class else float(skm.average_precision_score(y, p)),
        "brier": float(np.mean((p - y) ** 2)),
        "top_decile_lift": top_decile_lift(y, p),
        "n": float(len(y)),
        "positive_rate": float(y.mean()),
    }


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of `actual` ordered by `predicted`, over the Gini of the perfect ordering.

    1 = the prediction orders customers exactly as their realised value; 0 = no better than
    random. Ties in the prediction are averaged (the ordering among ties does not count).
    """
    a, p = np.asarray(actual, float), np.asarray(predicted, float)

    def gini(order_by: np.ndarray) -> float:
        # cumulative share of value captured, customers sorted by descending score; tied
        # scores share their value evenly so that an arbitrary order among ties gains nothing
        df = pd.DataFrame({"a": a, "s": order_by})
        g = df.groupby("s", sort=True)["a"].agg(["sum", "size"]).iloc[::-1]
        cum_n = np.cumsum(g["size"].to_numpy())
        cum_a = np.cumsum(g["sum"].to_numpy())
        n, total = len(a), a.sum()
        # area under the Lorenz-type curve with linear interpolation inside each tie group
        prev_n = np.r_[0, cum_n[:-1]]
        prev_a = np.r_[0, cum_a[:-1]]
        area = np.sum((cum_n - prev_n) / n * (prev_a + cum_a) / 2 / total)
        return float(area - 0.5)

    if a.sum() <= 0:
        return float("nan")
    return gini(p) / gini(a)


def top_share_captured(actual: np.ndarray, predicted: np.ndarray, share: float) -> float:
    """Share of the total realised value held by the top `share` of customers by prediction."""
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    k = max(1, int(np.ceil(share * len(a))))
    top = np.argsort(-p, kind="stable")[:k]
    total = a.sum()
    return float(a[top].sum() / total) if total > 0 else float("nan")


def decile_table(actual: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Mean predicted and realised value per decile of the prediction (1 = highest)."""
    df = pd.DataFrame({"actual": np.asarray(actual, float), "predicted": np.asarray(predicted)})
    df["decile"] = 10 - pd.qcut(df["predicted"].rank(method="first"), 10, labels=False)
    return (
        df.groupby("decile")
        .agg(predicted=("predicted", "mean"), actual=("actual", "mean"), n=("actual", "size"))
        .reset_index()
    )


def ltv_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """`actual` = realised value in the horizon, `predicted` = its forecast."""
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    dec = decile_table(a, p)
    nonzero = dec["actual"] > 0
    mape = (dec["predicted"] - dec["actual"]).abs()[nonzero] / dec["actual"][nonzero]
    total = a.sum()
    return {
        "normalized_gini": normalized_gini(a, p),
        "spearman": float(stats.spearmanr(a, p).statistic),
        "decile_mape": float(mape.mean()) if nonzero.any() else float("nan"),
        "total_error": float((p.sum() - total) / total) if total > 0 else float("nan"),
        "top10_captured": top_share_captured(a, p, 0.10),
        "top20_captured": top_share_captured(a, p, 0.20),
        "n": float(len(a)),
    }


def bootstrap_ci(
    metric: Metric,
    y: np.ndarray,
    p: np.ndarray,
    *,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(estimate, lower, upper): percentile bootstrap over customers, seeded."""
    y, p = np.asarray(y), np.asarray(p)
    rng = np.random.default_rng(seed)
    est = metric(y, p)
    draws = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        v = metric(y[i], p[i])
        if np.isfinite(v):
            draws.append(v)
    if not draws:
        return est, float("nan"), float("nan")
    lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return est, float(lo), float(hi)
