"""LightGBM and contractual scorers: reasons add up, TreeSHAP is exact, churn is monotone in
the time since the last purchase, calibration is fit out of time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_ml.models.contractual import AttributeLGBM, AttributeLogistic
from customer_ml.models.lgbm import LGBMChurnScorer, LGBMLTVScorer, feature_columns


def frame(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "as_of": pd.to_datetime(rng.choice(["2024-01-01", "2024-04-01", "2024-07-01"], n)),
            "recency_days": rng.exponential(60, n),
            "frequency": rng.poisson(3, n),
            "monetary_mean": rng.gamma(2, 20, n),
            "gap_ratio": rng.exponential(1, n),
            "bgnbd_p_any": rng.random(n),
        }
    )
    X.loc[::37, "monetary_mean"] = np.nan
    logit = -1 + 0.02 * X.recency_days - 0.4 * X.frequency + 0.5 * X.gap_ratio
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    spend = (1 - churned) * X.frequency.to_numpy() * rng.gamma(2, 10, n)
    return X, churned, spend


def test_feature_columns_exclude_ids_labels_and_optionally_btyd() -> None:
    X, _, _ = frame(50)
    X["churned"] = 0
    assert "customer_id" not in feature_columns(X, btyd=True)
    assert "churned" not in feature_columns(X, btyd=True)
    assert "bgnbd_p_any" in feature_columns(X, btyd=True)
    assert "bgnbd_p_any" not in feature_columns(X, btyd=False)


def test_churn_contributions_add_up_and_equal_shap_tree_explainer() -> None:
    import shap

    X, y, _ = frame()
    s = LGBMChurnScorer({"num_boost_round": 80}).fit(X, y)
    c = s.contributions(X)
    np.testing.assert_allclose(c.sum(axis=1), s.raw(X), atol=1e-6)
    sample = X[s.features_in_].iloc[:200].to_numpy(float)
    ref = shap.TreeExplainer(s.booster_).shap_values(sample)
    ref = ref[1] if isinstance(ref, list) else ref
    np.testing.assert_allclose(c.iloc[:200, :-1].to_numpy(), ref, atol=1e-6)


def test_churn_never_falls_when_the_last_purchase_gets_older() -> None:
    X, y, _ = frame()
    s = LGBMChurnScorer({"num_boost_round": 150, "num_leaves": 31}).fit(X, y)
    rows = X.iloc[:300]
    prev = None
    for days in (0, 5, 20, 60, 120, 240, 500):
        p = s.predict(rows.assign(recency_days=float(days)))
        if prev is not None:
            assert (p >= prev - 1e-12).all()
        prev = p


def test_calibration_is_fit_on_the_latest_cutoff_only_when_there_are_two() -> None:
    X, y, _ = frame()
    assert LGBMChurnScorer({"num_boost_round": 50}).fit(X, y).calibrator_ is not None
    one = X.assign(as_of=pd.Timestamp("2024-01-01"))
    assert LGBMChurnScorer({"num_boost_round": 50}).fit(one, y).calibrator_ is None
    raw = LGBMChurnScorer({"num_boost_round": 50}, calibration="none").fit(X, y)
    assert raw.calibrator_ is None
    cal = LGBMChurnScorer({"num_boost_round": 50}).fit(X, y)
    # calibration is monotone: it keeps the booster's ranking
    order = np.argsort(cal.raw(X))
    assert (np.diff(cal.predict(X)[order]) >= -1e-12).all()


@pytest.mark.parametrize("two_part", [False, True])
def test_ltv_contributions_add_up_to_the_log_prediction(two_part: bool) -> None:
    X, _, spend = frame()
    s = LGBMLTVScorer({"num_boost_round": 60}, two_part=two_part).fit(X, spend)
    p = s.predict(X)
    assert (p >= 0).all() and np.corrcoef(p, spend)[0, 1] > 0.3
    c = s.contributions(X)
    assert ("log_p_purchase" in c) == two_part
    np.testing.assert_allclose(c.sum(axis=1), np.log(p), atol=1e-6)


def test_contractual_scorers_add_up_per_original_column() -> None:
    rng = np.random.default_rng(1)
    n = 1500
    X = pd.DataFrame(
        {
            "customer_id": [f"k{i}" for i in range(n)],
            "Contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
            "Streaming": rng.choice(["Yes", "No"], n),
            "StreamingTV": rng.choice(["Yes", "No", None], n),
            "tenure": rng.integers(0, 72, n).astype(float),
        }
    )
    y = ((X.Contract == "Month-to-month") & (rng.random(n) < 0.6)).astype(float).to_numpy()
    for s in (AttributeLogistic(), AttributeLGBM(num_boost_round=50)):
        s.fit(X, y)
        c = s.contributions(X)
        assert list(c.columns) == ["Contract", "Streaming", "StreamingTV", "tenure", "base"]
        p = s.predict(X)
        np.testing.assert_allclose(c.sum(axis=1), np.log(p / (1 - p)), atol=1e-6)
        assert c["Contract"].abs().mean() > c["Streaming"].abs().mean()
        # an unseen category scores without error
        assert np.isfinite(s.predict(X.head(3).assign(Contract="Three year"))).all()
