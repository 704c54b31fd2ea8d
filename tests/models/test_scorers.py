"""Baseline scorers: contributions add up, specs round-trip, fitting learns nothing from X_test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from customer_ml.models.btyd_features import BTYD_COLUMNS, btyd_features
from customer_ml.models.scorers import (
    ColumnScorer,
    LogisticScorer,
    RateScorer,
)
from customer_ml.models.simulate import simulate_bgnbd
from customer_ml.models.specs import from_spec


def frame(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "recency_days": rng.exponential(60, n),
            "frequency": rng.poisson(2, n),
            "monetary_mean": rng.gamma(2, 20, n),
            "T": rng.uniform(30, 400, n),
        }
    )
    X.loc[::50, "monetary_mean"] = np.nan
    logit = -1 + 0.02 * X["recency_days"] - 0.5 * X["frequency"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y.to_numpy()


def test_logistic_contributions_add_up_to_the_log_odds() -> None:
    X, y = frame()
    s = LogisticScorer(("recency_days", "frequency", "monetary_mean", "T")).fit(X, y)
    c = s.contributions(X)
    assert list(c.columns) == ["recency_days", "frequency", "monetary_mean", "T", "base"]
    p = s.predict(X)
    np.testing.assert_allclose(c.sum(axis=1), np.log(p / (1 - p)), atol=1e-9)
    # direction: a longer time since the last purchase raises churn
    assert c["recency_days"].corr(X["recency_days"], method="spearman") > 0.999


def test_logistic_skips_absent_columns_and_uses_training_medians() -> None:
    X, y = frame()
    s = LogisticScorer(("recency_days", "monetary_mean", "not_there")).fit(X, y)
    assert s.features_in_ == ["recency_days", "monetary_mean"]
    with pytest.raises(ValueError, match="none of the columns"):
        LogisticScorer(("nope",)).fit(X, y)
    # the scaling is fit on the training rows only: scoring other rows does not refit it
    before = s.predict(X.iloc[:10])
    s.predict(X.iloc[100:] * 10)
    np.testing.assert_array_equal(before, s.predict(X.iloc[:10]))


@pytest.mark.parametrize(
    "scorer",
    [
        LogisticScorer(("recency_days", "T"), C=0.5),
        ColumnScorer("bgnbd_p_any", complement=True),
        RateScorer("monetary_total", 60),
    ],
    ids=lambda s: type(s).__name__,
)
def test_spec_round_trips_and_clone_keeps_params(scorer) -> None:
    rebuilt = from_spec(scorer.spec())
    assert type(rebuilt) is type(scorer)
    assert rebuilt.get_params() == scorer.get_params()
    assert clone(scorer).get_params() == scorer.get_params()
    with pytest.raises(ValueError, match="unknown scorer class"):
        from_spec({"class": "Nope", "params": {}})


def test_column_and_rate_scorers() -> None:
    X = pd.DataFrame({"bgnbd_p_any": [0.9, 0.2], "monetary_total": [100.0, 50.0], "T": [9, 199]})
    churn = ColumnScorer("bgnbd_p_any", complement=True).fit(X)
    np.testing.assert_allclose(churn.predict(X), [0.1, 0.8])
    rate = RateScorer("monetary_total", 100).fit(X)
    # younger than the horizon: the total so far; older: the rate over T + 1 days
    np.testing.assert_allclose(rate.predict(X), [100.0, 25.0])
    np.testing.assert_allclose(rate.contributions(X).sum(axis=1), rate.predict(X))


def test_btyd_features_on_a_simulated_snapshot() -> None:
    summary, future = simulate_bgnbd(5000, params=(0.5, 30.0, 0.8, 2.5), T=200.0, t=90.0, seed=3)
    snap = summary.assign(
        monetary_value=np.where(summary.frequency > 0, 20.0, 0.0), monetary_mean=20.0
    )
    snap.loc[0, ["frequency", "recency", "T"]] = [0, 0, 0]  # first purchase on the cutoff day
    f = btyd_features(snap, horizon_days=90)
    assert set(f.columns) == set(BTYD_COLUMNS)
    assert f.notna().all().all()
    for c in ("bgnbd_p_alive", "bgnbd_p_any", "pnbd_p_alive", "pnbd_p_any"):
        assert f[c].between(0, 1).all(), c
    assert (f.bgnbd_p_any <= f.bgnbd_p_alive + 1e-12).all()
    # the forecast is calibrated on the simulated future
    assert f.bgnbd_expected_purchases.sum() == pytest.approx(future.sum(), rel=0.05)
    assert ((future > 0).mean()) == pytest.approx(f.bgnbd_p_any.mean(), abs=0.02)
    with pytest.raises(ValueError, match="at least 20 customers"):
        btyd_features(snap.head(5), horizon_days=90)


def test_btyd_scores_report_their_driving_quantities() -> None:
    X = pd.DataFrame(
        {
            "bgnbd_p_any": [0.9, 0.2],
            "frequency": [3, 0],
            "recency": [40, 0],
            "T": [90, 10],
            "recency_days": [50, 10],
            "gap_ratio": [3.75, np.nan],
            "other": [1, 2],
        }
    )
    d = ColumnScorer("bgnbd_p_any", complement=True).fit(X).drivers(X)
    assert list(d.columns) == ["frequency", "recency", "T", "recency_days", "gap_ratio"]
    pd.testing.assert_frame_equal(d, X[d.columns])
