"""The recommendation job: backtest every candidate, choose by NDCG, fit as of the date,
write the top k per customer, and track it all in MLflow."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.lightgbm
import pandas as pd

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.errors import DataError
from customer_ml.files import atomic_file, write_parquet
from customer_ml.recs.evaluate import Backtest, backtest_recommenders
from customer_ml.recs.history import History
from customer_ml.recs.interactions import require_products
from customer_ml.recs.published import HITS, METRICS, SERVING, recs_folder
from customer_ml.recs.recommender import Recommender
from customer_ml.recs.tuning import RankerTuning
from customer_ml.tracking.backend import experiment_id, open_store
from customer_ml.tracking.registry import register_challenger, version_by_alias

__all__ = ["RecommendResult", "recommend_job", "recs_folder", "serving_table"]

SERVED_K = 50  # products kept per customer and task for the service to filter from

log = logging.getLogger(__name__)


@dataclass
class RecommendResult:
    recs: pd.DataFrame
    backtest: Backtest | None
    champion: str
    recommender: Recommender
    path: Path
    warning: str | None = None
    tuning: RankerTuning | None = None  # the ranker's Optuna study (before the backtest's cut)
    version: str = ""  # of <project>-recs in the MLflow registry


def serving_table(rec: Recommender, methods: dict[str, str], *, k: int = SERVED_K) -> pd.DataFrame:
    """What the service answers from: each customer's top `k` per task by that task's
    champion, with the product's category, and the popularity list under customer_id ''
    (task 'new customer') for ids it does not know."""
    assert rec.it_ is not None
    cats = dict(zip(rec.it_.items.product_id, rec.it_.items.category, strict=True))
    parts = [
        rec.recommend(k=k, task=task, method=method).assign(task=task)
        for task, method in methods.items()
    ]
    parts.append(rec.for_new_customer(k=k).assign(customer_id="", task="new customer"))
    out = pd.concat(parts, ignore_index=True)
    out["category"] = out.product_id.map(cats).astype("str")
    return out


def _publish(
    config: Config, served: pd.DataFrame, bt: Backtest | None, *, out: Path, k: int
) -> None:
    """The serving table, the backtest (also beside `out` as <out>.metrics.json when `out` is
    elsewhere) and its per-customer hits into the config's recommendations folder; a run
    without a backtest removes the previous one's, so the folder never mixes two runs."""
    folder = recs_folder(config)
    with atomic_file(folder / SERVING) as tmp:
        write_parquet(served, tmp)
    if bt is None:
        for name in (METRICS, HITS):
            (folder / name).unlink(missing_ok=True)
        return
    metrics = json.dumps(
        {
            "cut": str(bt.cut.date()),
            "k": k,
            "champion": {t: bt.champion(t) for t in ("all", "new")},
            "backtest": bt.table().to_dict(orient="records"),
        },
        indent=2,
    )
    beside = [] if out.parent.resolve() == folder.resolve() else [out.with_suffix(".metrics.json")]
    for path in [folder / METRICS, *beside]:
        with atomic_file(path) as tmp:
            tmp.write_text(metrics)
    with atomic_file(folder / HITS) as tmp:
        write_parquet(bt.hits(), tmp)


def _log_run(config: Config, result: RecommendResult, *, as_of: dt.date, task: str, k: int) -> str:
    client = open_store(config.paths.mlruns)
    name = f"{config.project_name}-recommend"
    exp = experiment_id(client, name, config.paths.mlruns)
    with mlflow.start_run(experiment_id=exp, run_name=f"recommend as of {as_of}") as run:
        mlflow.log_params(
            {
                "as_of": str(as_of),
                "horizon_days": config.horizon_days,
                "k": k,
                "task": task,
                "champion": result.champion,
            }
        )
        if result.backtest is not None:
            table = result.backtest.table()
            metrics = {
                f"{row['task']}.{row['method']}.{col.replace('@', '_at_')}": float(row[col])
                for row in table.to_dict(orient="records")
                for col in (f"recall@{k}", f"ndcg@{k}", "coverage")
            }
            mlflow.log_metrics(metrics)
            mlflow.log_text(table.to_csv(index=False), "backtest.csv")
        mlflow.set_tag("customer_ml.champion", result.champion)
        result.version = _register(config, result, as_of=as_of, run_id=run.info.run_id)
        rec = result.recommender
        mlflow.log_params({f"ranker.{k}": v for k, v in rec.params_.items()})
        tuning = result.tuning
        if tuning is not None and not tuning.trials.empty:
            mlflow.log_text(tuning.trials.to_csv(index=False), "tuning/trials.csv")
            mlflow.log_metrics({"tuning.trials": len(tuning.trials), "tuning.s": tuning.seconds})
    return str(run.info.run_id)


def _register(config: Config, result: RecommendResult, *, as_of: dt.date, run_id: str) -> str:
    """The learned part of the recommender (the lambdarank ranker of each task) as MLflow
    LightGBM models, the task-`all` one registered as <project>-recs with the recipe and the
    backtest as tags; `champion` moves to it unless the champion is of a later as_of (a run
    for an earlier date does not displace it). Item-level models only: no customer rows."""
    rec = result.recommender
    uris = {}
    for task, booster in rec.rankers_.items():
        info = mlflow.lightgbm.log_model(
            booster, name=f"ranker-{task}", pip_requirements=["lightgbm"]
        )
        uris[task] = info.model_uri
    if "all" not in uris:
        return ""
    bt = result.backtest
    methods = {t: bt.champion(t) if bt is not None else "ranker" for t in ("all", "new")}
    tags = {
        "task": "recommend",
        "candidate": methods["all"],
        "methods": json.dumps(methods),
        "spec": json.dumps({"generators": rec.spec, "ranker": rec.params_}, default=str),
        "as_of": as_of.isoformat(),
    }
    if bt is not None:
        tags |= {
            "primary_metric": f"ndcg@{bt.k}",
            "metric_value": f"{bt.score('all', methods['all']):.6f}",
            "metric_value_new": f"{bt.score('new', methods['new']):.6f}",
            "backtest_cut": str(bt.cut.date()),
        }
    client = open_store(config.paths.mlruns)
    name = f"{config.project_name}-recs"
    version = register_challenger(client, name, model_uri=uris["all"], run_id=run_id, tags=tags)
    champ = version_by_alias(client, name, "champion")
    if champ is None or champ.tags.get("as_of", "") <= tags["as_of"]:
        client.set_registered_model_alias(name, "champion", version)
    return version


def recommend_job(
    config: Config,
    data: Dataset,
    *,
    as_of: dt.date,
    out: Path,
    k: int = 10,
    new_only: bool = False,
    n_boot: int = 200,
    track: bool = True,
) -> RecommendResult:
    """Uses rows up to `as_of` only. The champion is the best method on the backtest judged in
    (as_of - horizon, as_of]; with too little history for it, the blend is used untested and
    the result carries a one-line warning."""
    require_products(data)
    task, h = ("new" if new_only else "all"), config.horizon_days
    warning, bt = None, None
    start = data.date_range()
    if start is None:
        raise DataError("no transactions to recommend from")
    history = History(data, as_of=as_of, horizon_days=h)
    tuned = Recommender(
        seed=config.seed,
        tune_trials=config.recommend.n_trials,
        tune_timeout_s=config.recommend.timeout_s,
    )
    if pd.Timestamp(as_of) - pd.Timedelta(days=2 * h) > start[0]:
        bt = backtest_recommenders(
            as_of=as_of, horizon_days=h, k=k, n_boot=n_boot, recommender=tuned, history=history
        )
        champion = bt.champion(task)
    else:
        champion = "ranker"
        warning = (
            f"history before {as_of} is shorter than two horizons ({2 * h} days): the "
            "blend is used without a backtest"
        )
        log.warning(warning)
    # the parameters tuned before the backtest's cut (tuned here when there was no backtest)
    final = Recommender(seed=config.seed, ranker_params=tuned.params_) if bt is not None else tuned
    rec = final.fit(as_of=as_of, horizon_days=h, history=history)
    methods = {t: bt.champion(t) if bt is not None else "ranker" for t in ("all", "new")}
    served = serving_table(rec, methods, k=max(SERVED_K, k))
    mine = served[(served.task == task) & (served["rank"] <= k)]  # the champion's top k
    recs = mine[["customer_id", "rank", "product_id", "score", "reason"]].reset_index(drop=True)
    with atomic_file(out) as tmp:
        write_parquet(recs, tmp)
    _publish(config, served.assign(as_of=str(as_of)), bt, out=out, k=k)
    result = RecommendResult(recs, bt, champion, rec, out, warning, tuned.tuning_)
    if track:
        _log_run(config, result, as_of=as_of, task=task, k=k)
    return result
