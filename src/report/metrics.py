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
from customer_ml.tracking.store import open_store, quiet_downloads

__all__ = ["build_metrics"]


def _artifact(run_id: str, path: str) -> Any:
    try:
        with quiet_downloads():
            return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except (MlflowException, OSError):
        return None


def build_metrics(
    config: Config,
    models: Models,
    scores: pd.DataFrame,
    *,
    as_of: dt.date,
    promotions: dict[str, str],
    data_profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The models used (version, gate verdict, full backtest of every candidate with CIs and
    customers per origin) and summary figures of the scores."""
    client = open_store(config.paths.mlruns)
    out: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "horizon_days": config.horizon_days,
        "project": config.project_name,
        "customers": len(scores),
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
    ltv = scores["predicted_ltv"]
    out["scores"] = {
        "churn_probability_mean": float(scores["churn_probability"].mean()),
        "expected_purchases_total": float(scores["expected_purchases"].sum()),
        "predicted_ltv_total": float(ltv.sum()) if ltv.notna().any() else None,
        "value_at_risk_total": float(scores["value_at_risk"].sum()),
        **{
            f"by_{c}": scores[c].value_counts().to_dict()
            for c in ("segment_name", "value_tier", "lifecycle_stage", "recommended_action")
        },
    }
    return out
