"""metrics.json of a scoring run: the data profile, the models used (version, gate verdict,
full backtest of every candidate with CIs and customers per origin) and summary figures of the
scores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import mlflow.artifacts
import pandas as pd
from mlflow.exceptions import MlflowException

from customer_ml.config import Config
from customer_ml.scoring.models import Models
from customer_ml.tracking.backend import open_store, quiet_downloads

__all__ = ["SUMMARY_COUNTS", "build_metrics", "score_summary"]


def _artifact(run_id: str, path: str) -> Any:
    try:
        with quiet_downloads():
            return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except (MlflowException, OSError):
        return None


def build_metrics(
    config: Config,
    models: Models,
    scores: pd.DataFrame | None,
    *,
    as_of: dt.date,
    promotions: dict[str, str],
    data_profile: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The models used (version, gate verdict, full backtest of every candidate with CIs and
    customers per origin) and summary figures of the scores (`summary`: those figures, as
    `score_summary` gives them, computed elsewhere; `scores` is then not read)."""
    if summary is None and scores is None:
        raise ValueError("build_metrics needs the scores or their summary")
    figures = dict(summary if summary is not None else score_summary(scores))
    client = open_store(config.paths.mlruns)
    out: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "horizon_days": config.horizon_days,
        "project": config.project_name,
        "customers": figures.pop("customers"),
        "data": data_profile or {},
        "models": {},
    }
    for task in ("churn", "ltv", "segments"):
        run_id = models.runs.get(task, "")
        entry: dict[str, Any] = {
            "version": models.versions.get(task),
            "run_id": run_id,
            "gate": promotions.get(task, ""),
        }
        if run_id:
            run = client.get_run(run_id)
            entry["params"] = dict(run.data.params)
            if task == "segments":
                entry["quality"] = dict(run.data.metrics)
            else:
                entry["backtest"] = _artifact(run_id, "backtest.json")
        out["models"][task] = entry
    out["scores"] = figures
    return out


SUMMARY_COUNTS = ("segment_name", "value_tier", "lifecycle_stage", "recommended_action")


def score_summary(scores: pd.DataFrame) -> dict[str, Any]:
    """Customers, mean churn probability, totals and the customers per label."""
    ltv = scores["predicted_ltv"]
    return {
        "customers": len(scores),
        "churn_probability_mean": float(scores["churn_probability"].mean()),
        "expected_purchases_total": float(scores["expected_purchases"].sum()),
        "predicted_ltv_total": float(ltv.sum()) if ltv.notna().any() else None,
        "value_at_risk_total": float(scores["value_at_risk"].sum()),
        **{f"by_{c}": scores[c].value_counts().to_dict() for c in SUMMARY_COUNTS},
    }
