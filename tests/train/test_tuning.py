"""Tuning: time-based validation, and the one-standard-error rule that serves the smallest
trial whose validation score is within one bootstrap standard error of the best."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
import pytest

from customer_ml.config import TuningConfig
from customer_ml.models.lgbm import booster_params
from customer_ml.models.metrics import churn_metrics
from customer_ml.train import tuning
from customer_ml.train.tuning import _choose, _leaves, tune


def trial(number: int, value: float, leaves: int) -> optuna.trial.FrozenTrial:
    t = optuna.trial.create_trial(
        value=value, params={}, distributions={}, user_attrs={"leaves": leaves}
    )
    t.number = number
    return t


TRIALS = [trial(0, 0.900, 4000), trial(1, 0.897, 300), trial(2, 0.898, 900), trial(3, 0.880, 50)]


@pytest.mark.parametrize(
    ("se", "prefer_smaller", "chosen"),
    [
        (0.005, True, 1),  # 0.897 is within 0.005 of 0.900 and the smallest such
        (0.0025, True, 2),  # only 0.898 and the best are within 0.0025
        (0.0001, True, 0),  # nothing else is near: the best
        (0.05, True, 3),  # everything is near: the smallest
        (0.005, False, 0),  # the rule off: the best
        (float("nan"), True, 0),  # no standard error: the best
    ],
)
def test_the_smallest_trial_within_one_standard_error(
    se: float, prefer_smaller: bool, chosen: int
) -> None:
    assert _choose(TRIALS, se, prefer_smaller).number == chosen


def test_ties_in_size_go_to_the_better_then_the_earlier_trial() -> None:
    trials = [trial(0, 0.90, 100), trial(1, 0.899, 100), trial(2, 0.90, 100)]
    assert _choose(trials, 0.01, True).number == 0
    assert _choose(trials[1:], 0.01, True).number == 2


def frames(n: int = 4000) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """Earlier and later cutoffs of a noisy churn problem (the label is time-ordered)."""
    rng = np.random.default_rng(0)

    def one(k: int) -> tuple[pd.DataFrame, np.ndarray]:
        X = pd.DataFrame(
            {
                "recency_days": rng.exponential(60, k),
                "n_purchases": rng.poisson(4, k).astype(float),
                "spend_90d": rng.gamma(2, 30, k),
                "noise": rng.normal(size=k),
            }
        )
        z = 0.03 * X.recency_days - 0.4 * X.n_purchases - 0.005 * X.spend_90d
        return X, (rng.random(k) < 1 / (1 + np.exp(-z))).astype(float)

    (a, ya), (b, yb) = one(n), one(n // 2)
    return a, ya, b, yb


@pytest.mark.parametrize("prefer_smaller", [True, False])
def test_tune_serves_a_trial_within_one_standard_error(prefer_smaller: bool) -> None:
    X, y, Xv, yv = frames()
    cfg = TuningConfig(n_trials=8, max_rounds=200, prefer_smaller=prefer_smaller)
    tuned = tune(X, y, Xv, yv, task="churn", config=cfg, seed=0)
    done = [t for t in tuned.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(done, key=lambda t: t.value)
    assert tuned.best_value == pytest.approx(best.value)
    assert 0 < tuned.standard_error < 0.05  # a bootstrap SE of a validation ROC-AUC
    chosen = tuned.study.trials[tuned.trial]
    assert tuned.value == chosen.value
    assert tuned.params["num_boost_round"] == chosen.user_attrs["num_boost_round"]
    assert tuned.leaves == chosen.user_attrs["leaves"]
    if prefer_smaller:
        assert chosen.value >= best.value - tuned.standard_error
        near = [t for t in done if t.value >= best.value - tuned.standard_error]
        assert tuned.leaves == min(t.user_attrs["leaves"] for t in near)
    else:
        assert tuned.trial == best.number
    # the recorded size is what the served parameters grow
    params = booster_params(tuned.params, objective="binary", seed=0)
    b = lgb.train(params, lgb.Dataset(X.to_numpy(), label=y), num_boost_round=5)
    assert _leaves(b, 5) == sum(t["num_leaves"] for t in b.dump_model()["tree_info"])


def test_the_standard_error_is_that_of_the_best_trials_predictions(monkeypatch) -> None:
    seen = {}
    real = tuning.bootstrap_metrics

    def spy(task, y, p, **kw):
        seen["p"] = p
        return real(task, y, p, **kw)

    monkeypatch.setattr(tuning, "bootstrap_metrics", spy)
    X, y, Xv, yv = frames()
    tuned = tune(X, y, Xv, yv, task="churn", config=TuningConfig(n_trials=5), seed=0)
    assert churn_metrics(yv, seen["p"])["roc_auc"] == pytest.approx(tuned.best_value)
