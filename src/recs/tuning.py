"""Optuna tuning of the ranker on an inner time split before the date it is fitted at.

Fitting at day ``D`` (horizon ``H``), the ranker learns at the cuts ``D - H`` and ``D - 2H``.
Its parameters are chosen first on a split that ends by ``D``: each trial trains on the
candidates at ``D - 2H`` (labelled by ``(D - 2H, D - H]``) and is judged by NDCG@k on the
candidates at ``D - H`` against what customers bought in ``(D - H, D]``, mean over the two
tasks. Nothing after ``D`` is read, so inside a backtest (``D`` = its cut) the judged window
stays unseen. The first trial is the default parameters, and the best trial replaces them
only when its gain is more than one standard error (paired by customer): on a flat landscape
the noise of one split would otherwise pick parameters that generalise worse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from customer_ml.recs.features import TASKS, top_k
from customer_ml.recs.metrics import per_customer
from customer_ml.recs.ranker import RANKER_DEFAULTS, features, fit_ranker

if TYPE_CHECKING:
    from customer_ml.recs.history import History
    from customer_ml.recs.recommender import Recommender

__all__ = ["RankerTuning", "tune_ranker"]


@dataclass
class RankerTuning:
    """The chosen parameters, every trial (params, NDCG per task, mean), and the split."""

    params: dict[str, Any]
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)
    train_cut: int | None = None
    valid_cut: int | None = None
    seconds: float = 0.0


_PARAMS = (
    "learning_rate",
    "num_leaves",
    "min_data_in_leaf",
    "feature_fraction",
    "lambda_l2",
    "num_boost_round",
)


def _space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 63, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        "num_boost_round": trial.suggest_int("num_boost_round", 30, 200, log=True),
    }


@dataclass
class _Split:
    """One task's validation candidates at a cut, their ids and the truth (built once)."""

    frame: pd.DataFrame
    customers: np.ndarray
    products: np.ndarray
    truth: pd.DataFrame

    @classmethod
    def at(cls, history: History, rec: Recommender, cut: int, task: str) -> _Split:
        it = history.interactions(cut)
        frame = history.candidates(cut, rec.spec, n=rec.n_candidates)[task]
        return cls(
            frame, it.customers, it.items.product_id.to_numpy(), history.future(cut, task=task)
        )

    def ndcg(self, model: Any, k: int) -> pd.Series:
        """NDCG@k per customer with a purchase (in customer_id order) of `model`'s ranking."""
        if model is None or self.frame.empty or self.truth.empty:
            return pd.Series(dtype=float)
        top = top_k(self.frame, np.asarray(model.predict(features(self.frame), num_threads=1)), k)
        recs = pd.DataFrame(
            {
                "customer_id": self.customers[top.cust.to_numpy()],
                "rank": top["rank"].to_numpy(),
                "product_id": self.products[top.item.to_numpy()],
            }
        )
        return per_customer(recs, self.truth, k=k)["ndcg"].sort_index()


def _gain_se(best: dict[str, pd.Series], base: dict[str, pd.Series]) -> float:
    """Standard error of the mean-over-tasks NDCG gain of `best` over `base` (paired by
    customer within each task)."""
    var = 0.0
    for task in base:
        d = (best[task] - base[task]).dropna()
        if len(d) > 1:
            var += float(d.var(ddof=1)) / len(d) / len(base) ** 2
    return float(np.sqrt(var))


def tune_ranker(
    history: History,
    rec: Recommender,
    *,
    day: int,
    n_trials: int,
    timeout_s: float,
    k: int = 10,
) -> RankerTuning:
    """Parameters for the ranker fitted at `day`, from at most `n_trials` trials (and
    `timeout_s` seconds) on the inner split described above. Uses purchases up to `day`
    only. Without two earlier cuts with history, or with `n_trials` 0: the defaults."""
    cuts = history.training_cuts(day, n=2)
    if n_trials <= 0 or len(cuts) < 2:
        return RankerTuning(dict(rec.ranker_params))
    import optuna

    valid, train = cuts[0], cuts[1]
    sets = {t: rec.training_set(history, train, task=t) for t in TASKS}
    splits = {t: _Split.at(history, rec, valid, t) for t in TASKS}
    rows: list[dict[str, Any]] = []
    per: list[dict[str, pd.Series]] = []

    def objective(trial: optuna.Trial) -> float:
        params = _space(trial)
        got = {}
        for task in TASKS:
            model = fit_ranker([sets[task]], params=params, seed=rec.seed)
            got[task] = splits[task].ndcg(model, k)
        scores = {t: float(v.mean()) if len(v) else float("nan") for t, v in got.items()}
        mean = float(np.nanmean(list(scores.values())))
        rows.append({**params, **{f"ndcg@{k}.{t}": v for t, v in scores.items()}, "mean": mean})
        per.append(got)
        return mean

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=rec.seed)
    )
    study.enqueue_trial({**RANKER_DEFAULTS, **rec.ranker_params})
    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials, timeout=timeout_s)
    trials = pd.DataFrame(rows)
    i = int(trials["mean"].idxmax())
    gain = float(trials["mean"].iloc[i] - trials["mean"].iloc[0])
    # the one-standard-error rule: leave the defaults only for a gain above the noise
    if i == 0 or gain <= _gain_se(per[i], per[0]):
        i = 0
    trials["chosen"] = trials.index == i
    params = {p: trials[p].iloc[i].item() for p in _PARAMS}
    return RankerTuning(params, trials, train, valid, time.perf_counter() - start)
