"""Optuna tuning of the LightGBM scorers on time-based validation.

The study fits on labelled snapshots at earlier cutoffs and validates on the latest one
(never a random split); TPE is seeded; trials are pruned by Optuna's MedianPruner on the
validation loss reported every 10 boosting rounds, and early-stopped; the trial and time
budgets come from the config. Tuning uses only data before the first backtest origin, so the
backtest of the tuned models stays honest at every origin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd

from customer_ml.config import TuningConfig
from customer_ml.models.lgbm import (
    LGBMChurnScorer,
    LGBMLTVScorer,
    booster_params,
    feature_columns,
)
from customer_ml.models.metrics import churn_metrics, normalized_gini
from customer_ml.models.scorers import Scorer

__all__ = ["Tuned", "TunedLGBM", "tune"]

Progress = Callable[[str, int, int], None]
OBJECTIVE = {"churn": ("binary", "binary_logloss"), "ltv": ("tweedie", "tweedie")}


@dataclass
class Tuned:
    """Best parameters (with ``num_boost_round``), the study, and the validation score."""

    params: dict[str, Any]
    value: float = float("nan")
    study: optuna.Study | None = field(default=None, repr=False)

    def trials(self) -> pd.DataFrame:
        """One row per trial: number, state, value, parameters."""
        if self.study is None:
            return pd.DataFrame()
        return self.study.trials_dataframe(attrs=("number", "state", "value", "params"))


def _space(trial: optuna.Trial, task: str) -> dict[str, Any]:
    p: dict[str, Any] = {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 400, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }
    if task == "ltv":
        p["tweedie_variance_power"] = trial.suggest_float("tweedie_variance_power", 1.05, 1.95)
    return p


def _pruning(trial: optuna.Trial, metric: str, every: int = 10) -> Callable[[Any], None]:
    """Report minus the validation loss every `every` rounds; prune below the median."""

    def callback(env: Any) -> None:
        if (env.iteration + 1) % every:
            return
        for _, name, value, _ in env.evaluation_result_list:
            if name == metric:
                trial.report(-float(value), env.iteration + 1)
                if trial.should_prune():
                    raise optuna.TrialPruned()

    return callback


def tune(
    train: pd.DataFrame,
    y_train: np.ndarray,
    valid: pd.DataFrame,
    y_valid: np.ndarray,
    *,
    task: str,
    config: TuningConfig,
    btyd: bool = True,
    seed: int = 0,
    progress: Progress | None = None,
) -> Tuned:
    """Search LightGBM parameters maximising ROC-AUC (churn) or normalized Gini (LTV) on
    `valid`, a later cutoff than every row of `train`."""
    if config.n_trials == 0:
        return Tuned({})
    objective, metric = OBJECTIVE[task]
    cols = feature_columns(train, btyd=btyd)
    dtrain = lgb.Dataset(train[cols].to_numpy(float, na_value=np.nan), label=y_train)
    xv = valid[cols].to_numpy(float, na_value=np.nan)
    dvalid = lgb.Dataset(xv, label=y_valid, reference=dtrain)

    def run(trial: optuna.Trial) -> float:
        params = booster_params(_space(trial, task), objective=objective, seed=seed)
        params["metric"] = metric
        params["feature_pre_filter"] = False  # trials vary min_child_samples
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=config.max_rounds,
            valid_sets=[dvalid],
            valid_names=["valid"],
            callbacks=[lgb.early_stopping(30, verbose=False), _pruning(trial, metric)],
        )
        trial.set_user_attr("num_boost_round", int(booster.best_iteration or config.max_rounds))
        pred = booster.predict(xv, num_iteration=booster.best_iteration)
        if task == "churn":
            return churn_metrics(y_valid, pred)["roc_auc"]
        return normalized_gini(y_valid, pred)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30),
        study_name=f"{task}-lightgbm",
    )

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress:
            progress(f"tuning {task}: trial {trial.number + 1}", trial.number + 1, config.n_trials)

    study.optimize(run, n_trials=config.n_trials, timeout=config.timeout_s, callbacks=[report])
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return Tuned({}, study=study)
    best = study.best_trial
    return Tuned(
        {**best.params, "num_boost_round": best.user_attrs["num_boost_round"]},
        value=float(best.value if best.value is not None else np.nan),
        study=study,
    )


class TunedLGBM(Scorer):
    """A LightGBM scorer whose parameters are tuned inside `fit`, on its own training frame:
    boosters fit on the earlier cutoffs and are validated on the latest, then the scorer is
    refit with the best parameters on all of it. Backtesting it therefore evaluates the
    whole procedure, tuning included, at every origin.

    ``fitted_`` is the plain scorer (models layer, no Optuna) that gets logged and served.
    """

    def __init__(
        self,
        task: str = "churn",
        variant: str = "btyd",
        n_trials: int = 20,
        timeout_s: float = 30.0,
        max_rounds: int = 500,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.variant = variant
        self.n_trials = n_trials
        self.timeout_s = timeout_s
        self.max_rounds = max_rounds
        self.seed = seed

    def _scorer(self, params: dict[str, Any]) -> Scorer:
        btyd = self.variant != "plain"
        if self.task == "churn":
            return LGBMChurnScorer(params, btyd=btyd, seed=self.seed)
        return LGBMLTVScorer(params, btyd=btyd, two_part=self.variant == "two_part", seed=self.seed)

    def fit(self, X: pd.DataFrame, y: Any, progress: Progress | None = None) -> TunedLGBM:
        y = np.asarray(y, float)
        cuts = sorted(pd.unique(X["as_of"])) if "as_of" in X else []
        self.tuned_ = Tuned({})
        if len(cuts) >= 2 and self.n_trials > 0:
            late = (X["as_of"] == cuts[-1]).to_numpy()
            cfg = TuningConfig(
                n_trials=self.n_trials, timeout_s=self.timeout_s, max_rounds=self.max_rounds
            )
            self.tuned_ = tune(
                X[~late],
                y[~late],
                X[late],
                y[late],
                task=self.task,
                config=cfg,
                btyd=self.variant != "plain",
                seed=self.seed,
                progress=progress,
            )
        self.fitted_ = self._scorer(self.tuned_.params).fit(X, y)
        self.features_in_ = list(self.fitted_.features_in_)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.fitted_.predict(X))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.fitted_.contributions(X)
