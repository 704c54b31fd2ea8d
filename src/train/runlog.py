"""What a training run logs to MLflow: params, config, data fingerprint, per-origin and
aggregated metrics with CIs, plots, the tuning study, and the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
from matplotlib import pyplot as plt

from customer_ml.config import Config
from customer_ml.tracking.pyfunc import log_scorer
from customer_ml.train.plots import backtest_figures, shap_summary, tuning_history

if TYPE_CHECKING:
    from customer_ml.train.results import TaskResult

__all__ = ["log_run"]


def _metrics(result: TaskResult) -> None:
    bt = result.backtest
    metrics = {}
    for r in bt.summary.itertuples():
        metrics[f"{r.candidate}.{r.metric}"] = r.estimate
        if pd.notna(r.ci_low):
            metrics[f"{r.candidate}.{r.metric}_ci_low"] = r.ci_low
            metrics[f"{r.candidate}.{r.metric}_ci_high"] = r.ci_high
        if r.candidate == result.chosen:
            metrics[str(r.metric)] = r.estimate
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if pd.notna(v)})
    cols = [c for c in bt.per_origin.columns if c not in ("candidate", "origin")]
    for k, o in enumerate(bt.origins):
        rows = bt.per_origin[bt.per_origin["origin"] == o]
        per = {
            f"origin.{r['candidate']}.{m}": float(r[m])
            for _, r in rows.iterrows()
            for m in cols
            if pd.notna(r[m])
        }
        mlflow.log_metrics(per, step=k)


def _figure(fig: Any, path: str) -> None:
    mlflow.log_figure(fig, path)
    plt.close(fig)


def log_run(
    result: TaskResult, *, config: Config, fingerprint: dict[str, Any], train: pd.DataFrame
) -> str:
    """Log into the active run; returns the logged model's URI."""
    bt = result.backtest
    mlflow.log_params(
        {
            "task": result.task,
            "as_of": result.as_of.isoformat(),
            "horizon_days": config.horizon_days,
            "origins": ",".join(str(o) for o in bt.origins),
            "n_train_cutoffs": config.backtest.n_train_cutoffs,
            "chosen": result.chosen,
            "candidates": ",".join(bt.ranking()),
        }
    )
    data_hash = fingerprint.get("transactions", {}).get("hash", "")
    mlflow.set_tags({"task": result.task, "data.hash": data_hash})
    mlflow.log_dict(config.model_dump(mode="json"), "config.json")
    mlflow.log_dict(fingerprint, "data_fingerprint.json")
    mlflow.log_dict(bt.to_dict(), "backtest.json")
    _metrics(result)
    if result.ablation is not None:
        ab = result.ablation
        mlflow.log_dict(ab.to_dict(), "ablation.json")
        mlflow.log_param("ablation.dropped", ",".join(ab.dropped) or "none")
        for i, row in enumerate(ab.steps.itertuples()):
            mlflow.log_metric(f"ablation.{ab.metric}", float(row.score), step=i)
    for name, fig in backtest_figures(bt).items():
        _figure(fig, f"plots/{name}")
    tuned = result.tuned
    if tuned is not None and tuned.study is not None:
        mlflow.log_params({f"tuned.{k}": v for k, v in tuned.params.items()})
        mlflow.log_metrics(
            {
                "tuning.best_validation": tuned.best_value,
                "tuning.best_validation_se": tuned.standard_error,
                "tuning.chosen_validation": tuned.value,
                "tuning.chosen_trial": tuned.trial,
                "tuning.chosen_leaves": tuned.leaves,
            }
        )
        trials = tuned.trials()
        mlflow.log_text(trials.to_csv(index=False), "tuning/trials.csv")
        if len(trials):
            _figure(tuning_history(tuned.study), "tuning/optimization_history.png")
    if hasattr(result.model.scorer, "booster_"):
        _figure(shap_summary(result.model.scorer, train), "plots/shap_summary.png")
    return log_scorer(result.model, frame=train).model_uri
