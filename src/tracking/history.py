"""Monitoring figures over time: one MLflow run per cycle in the <project>-monitoring
experiment, its figures logged as metrics at step = the as_of date in days since 1970-01-01
(and with the as_of date as the metric timestamp), so the MLflow UI and
`monitoring_history` put every cycle on one time axis."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from customer_ml.tracking.backend import experiment_id, model_name, open_store

__all__ = ["FIGURES", "log_cycle", "monitoring_history", "step_of"]

# metric name -> where it sits in monitor.json (drift figures, then the realised ones)
FIGURES = {
    "share_drifted": ("drift", "share_drifted"),
    "features_drifted": ("drift", "features_drifted"),
    "predictions_drifted": ("drift", "predictions_drifted"),
    "customers": ("customers", "current"),
    "new_customers": ("customers", "new"),
    "realised_churn_auc": ("realised", "churn_auc"),
    "realised_churn_pr_auc": ("realised", "churn_pr_auc"),
    "realised_brier": ("realised", "brier"),
    "realised_churn_rate": ("realised", "churn_rate"),
    "realised_ltv_gini": ("realised", "ltv_gini"),
    "realised_ltv_total_error": ("realised", "ltv_total_error"),
    "backtest_churn_auc": ("backtest", "churn_auc"),
}
EPOCH = dt.date(1970, 1, 1)


def step_of(day: dt.date) -> int:
    """The MLflow step of a cycle as of `day`: days since 1970-01-01."""
    return (day - EPOCH).days


def _figures(report: dict[str, Any]) -> dict[str, float]:
    drift = report["drift"]
    real = report.get("realised") or {}
    parts = {
        "drift": drift
        | {
            "features_drifted": sum(v["drifted"] for v in drift["features"].values()),
            "predictions_drifted": sum(v["drifted"] for v in drift["predictions"].values()),
        },
        "customers": report["customers"],
        "realised": real,
        "backtest": real.get("backtest") or {},
    }
    out = {}
    for name, (part, key) in FIGURES.items():
        value = parts[part].get(key)
        if isinstance(value, int | float) and pd.notna(value):
            out[name] = float(value)
    return out


def log_cycle(report: dict[str, Any], *, project: str, mlruns: Path) -> str:
    """One run in <project>-monitoring with a monitoring report's figures (`FIGURES`; the
    realised ones only once a reference's horizon has passed), its decision and dates as
    params, and monitor.json as an artifact. Returns the run id."""
    client = open_store(mlruns)
    exp = experiment_id(client, model_name(project, "monitoring"), mlruns)
    day = dt.date.fromisoformat(report["as_of"])
    real = report.get("realised") or {}
    stamp = int(pd.Timestamp(day, tz="UTC").timestamp() * 1000)
    with mlflow.start_run(experiment_id=exp, run_name=f"cycle as of {day}") as run:
        mlflow.log_params(
            {
                "as_of": day.isoformat(),
                "reference_as_of": report["reference"]["as_of"],
                "realised_as_of": real.get("as_of", ""),
                "decision": report["decision"]["action"],
            }
        )
        mlflow.log_metrics(_figures(report), step=step_of(day), timestamp=stamp)
        mlflow.log_dict(report, "monitor.json")
    return str(run.info.run_id)


def monitoring_history(*, project: str, mlruns: Path) -> pd.DataFrame:
    """Every logged cycle, oldest first: as_of (a date), decision, reference_as_of,
    realised_as_of, run_id and the figures of `FIGURES` (NaN where a cycle had none).
    Two cycles as of the same day are both kept (the later one last)."""
    client = open_store(mlruns)
    exp = client.get_experiment_by_name(model_name(project, "monitoring"))
    cols = ["as_of", "decision", "reference_as_of", "realised_as_of", "run_id", *FIGURES]
    if exp is None:
        return pd.DataFrame(columns=cols)
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.search_runs([exp.experiment_id], max_results=1000, page_token=token)
        for run in page:
            p, m = run.data.params, run.data.metrics
            rows.append(
                {k: p.get(k, "") for k in cols[1:4]}
                | {
                    "as_of": pd.Timestamp(p["as_of"]),
                    "run_id": run.info.run_id,
                    "start": run.info.start_time,
                }
                | {k: m.get(k, float("nan")) for k in FIGURES}
            )
        token = page.token
        if not token:
            break
    if not rows:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(rows).sort_values(["as_of", "start"]).reset_index(drop=True)
    return frame[cols]
