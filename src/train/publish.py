"""After a backtest: re-score the champion alongside, log the run, register the challenger."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.models.scorers import Scorer
from customer_ml.models.specs import from_spec
from customer_ml.tracking.backend import data_fingerprint, experiment_id, model_name
from customer_ml.tracking.registry import champion_spec, register_challenger
from customer_ml.train.runlog import log_run
from customer_ml.train.tuning import TunedLGBM

if TYPE_CHECKING:
    from customer_ml.train.results import TaskResult

__all__ = ["Champion", "add_champion", "best_baseline_tags", "publish"]

Champion = tuple[str, str] | None  # (registered version, candidate name in this backtest)


def _rebuild(spec: dict[str, Any]) -> Scorer:
    """An unfitted scorer from a registered spec (the tuned LightGBM wrapper included)."""
    if spec.get("class") == "TunedLGBM":  # lives in train/ (Optuna), so models/ cannot know it
        return TunedLGBM(**spec["params"])
    return from_spec(spec)


CONTRACTUAL = ("AttributeLGBM", "AttributeLogistic")


def add_champion(
    client: MlflowClient | None, name: str, cands: dict[str, Scorer], *, contractual: bool = False
) -> Champion:
    """Put the current champion's spec among the candidates (unless one already is it), so
    the promotion gate can compare it with the challenger on the same backtest. A champion
    from the other kind of data (contractual vs transactions) is not comparable: None."""
    champ = champion_spec(client, name) if client is not None else None
    if champ is None:
        return None
    version, spec = champ
    if (spec.get("class") in CONTRACTUAL) != contractual or "champion" in cands:
        return None
    key = json.dumps(spec, sort_keys=True)
    for k, v in cands.items():
        if json.dumps(v.spec(), sort_keys=True) == key:
            return version, k
    try:
        cands["champion"] = _rebuild(spec)
    except (ValueError, TypeError):
        return None  # an unknown scorer class: the gate will ask for --force
    return version, "champion"


def best_baseline_tags(result: TaskResult) -> dict[str, str]:
    """The best baseline (challenger) of the backtest and its primary score, which the
    promotion gate holds the registered model to; empty when the backtest has no baseline."""
    bt = result.backtest
    kinds = bt.learned
    names = [c for c in bt.ranking() if c != "champion" and not kinds.get(c, False)]
    if not names:
        return {}
    return {"best_baseline": names[0], "best_baseline_metric": f"{bt.score(names[0]):.6f}"}


def publish(
    result: TaskResult,
    *,
    data: Dataset,
    config: Config,
    train: pd.DataFrame,
    client: MlflowClient,
    spec: dict[str, Any],
    champion: Champion,
    register: bool,
) -> None:
    """Log the run (sets result.run_id) and register the model as challenger (sets
    result.version), with the tags the promotion gate reads."""
    name = model_name(config.project_name, result.task)
    exp = experiment_id(client, name, config.paths.mlruns)
    with mlflow.start_run(experiment_id=exp, run_name=f"{result.task} as of {result.as_of}") as run:
        model_uri = log_run(result, config=config, fingerprint=data_fingerprint(data), train=train)
        result.run_id = run.info.run_id
    if not register:
        return
    bt = result.backtest
    s = bt.summary
    row = s[(s["candidate"] == result.chosen) & (s["metric"] == bt.primary)].iloc[0]
    tags = {
        "task": result.task,
        "candidate": result.chosen,
        "spec": json.dumps(spec),
        "primary_metric": bt.primary,
        "metric_value": f"{row['estimate']:.6f}",
        "ci_low": f"{row['ci_low']:.6f}",
        "ci_high": f"{row['ci_high']:.6f}",
        "backtest_key": bt.key,
        "as_of": result.as_of.isoformat(),
    }
    tags |= best_baseline_tags(result)
    if champion is not None:
        tags["champion_version"] = champion[0]
        tags["champion_metric"] = f"{bt.score(champion[1]):.6f}"
    result.version = register_challenger(
        client, name, model_uri=model_uri, run_id=str(result.run_id), tags=tags
    )
