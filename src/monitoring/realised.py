"""The reference run's predictions judged against what happened in their horizon."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from customer_ml.data.dataset import Dataset
from customer_ml.features.labels import build_labels
from customer_ml.models.metrics import calibration_bins, churn_metrics, ltv_metrics

__all__ = ["backtest_figures", "realised_metrics"]


def realised_metrics(
    data: Dataset, scores: pd.DataFrame, *, as_of: dt.date, horizon_days: int
) -> dict[str, Any]:
    """Churn AUC, Brier, a calibration table, LTV Gini and the error of the total for the
    scores made as of `as_of`, against the window (as_of, as_of + horizon_days].

    Reads rows with ts <= as_of + horizon_days only. Customers scored but absent from the
    labels (none, for scores of the same data) are left out and counted.
    """
    labels = build_labels(data, as_of=as_of, horizon_days=horizon_days)
    labels = labels.assign(customer_id=labels["customer_id"].astype(str))
    s = scores.assign(customer_id=scores["customer_id"].astype(str))
    joined = s.merge(labels, on="customer_id", how="inner")
    y = joined["churned"].to_numpy(dtype=float)
    p = joined["churn_probability"].to_numpy(dtype=float)
    churn = churn_metrics(y, p)
    out: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "window_end": (as_of + dt.timedelta(days=horizon_days)).isoformat(),
        "customers": len(joined),
        "unmatched": len(s) - len(joined),
        "churn_auc": churn["roc_auc"],
        "churn_pr_auc": churn["pr_auc"],
        "brier": churn["brier"],
        "churn_rate": churn["positive_rate"],
        "calibration": calibration_bins(y, p).to_dict(orient="records"),
    }
    pred = joined["predicted_ltv"].to_numpy(dtype=float)
    if "future_spend" in joined and np.isfinite(pred).all():
        ltv = ltv_metrics(joined["future_spend"].to_numpy(dtype=float), pred)
        out |= {
            "ltv_gini": ltv["normalized_gini"],
            "ltv_total_error": ltv["total_error"],
            "ltv_spearman": ltv["spearman"],
            "revenue_realised": float(joined["future_spend"].sum()),
            "revenue_predicted": float(pred.sum()),
        }
    return out


def backtest_figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """The backtest figures of the models the reference run used (from its metrics.json):
    the chosen candidate's mean over origins, as promoted."""
    names = {
        "churn": {"roc_auc": "churn_auc", "brier": "brier"},
        "ltv": {"normalized_gini": "ltv_gini", "total_error": "ltv_total_error"},
    }
    out: dict[str, Any] = {}
    for task, wanted in names.items():
        bt = (metrics.get("models", {}).get(task) or {}).get("backtest") or {}
        rows = bt.get("summary") or []
        chosen = next((c for c in bt.get("ranking") or [] if c != "champion"), None)
        out[f"{task}_candidate"] = chosen
        for src, dst in wanted.items():
            out[dst] = next(
                (
                    r.get("estimate")
                    for r in rows
                    if r.get("candidate") == chosen and r.get("metric") == src
                ),
                None,
            )
    return out
