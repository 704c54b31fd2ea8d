"""BTYD models: published CDNOW estimates, and forecasts checked against simulation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special

from customer_ml.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from customer_ml.models.simulate import simulate_bgnbd, simulate_pareto
from tests.conftest import cdnow_sample_snapshot


@pytest.fixture(scope="module")
def cdnow_weeks() -> pd.DataFrame:
    """The 2,357-customer CDNOW sample, 39-week calibration, in weeks (same-day merged)."""
    s = cdnow_sample_snapshot()
    return pd.DataFrame(
        {
            "frequency": s["frequency"],
            "recency": s["recency"] / 7,
            "T": s["T"] / 7,
            "monetary_value": s["monetary_value"],
        }
    )


# Fader, Hardie & Lee (2005); Fader & Hardie (2005); Fader, Hardie & Lee (2005, RFM and CLV)
PUBLISHED = [
    (BetaGeoModel, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    (ParetoNBDModel, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9594.98),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("model", "params", "ll"), PUBLISHED)
def test_published_cdnow_estimates(cdnow_weeks, model, params, ll) -> None:
    fitted = model().fit(cdnow_weeks)
    assert fitted.converged_
    for k, v in params.items():
        assert fitted.params_[k] == pytest.approx(v, rel=0.01), k
    assert fitted.log_likelihood_ == pytest.approx(ll, abs=0.05)


@pytest.mark.realdata
def test_bgnbd_published_check_value(cdnow_weeks) -> None:
    bg = BetaGeoModel().fit(cdnow_weeks)
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert bg.expected_purchases(39, one)[0] == pytest.approx(1.226, abs=0.001)


@pytest.mark.realdata
def test_gamma_gamma_published(cdnow_weeks) -> None:
    gg = GammaGammaModel().fit(cdnow_weeks)
    assert gg.n_customers_ == 946
    for k, v in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert gg.params_[k] == pytest.approx(v, rel=0.01), k


def test_fit_is_unit_free() -> None:
    """Days or weeks: the same model (alpha scales with the unit, the rest is unchanged)."""
    X = simulate_bgnbd(3000, seed=4)[0]
    weeks = BetaGeoModel().fit(X)
    days = BetaGeoModel().fit(X.assign(recency=X.recency * 7, T=X["T"] * 7))
    assert days.params_["alpha"] == pytest.approx(7 * weeks.params_["alpha"], rel=1e-4)
    for k in ("r", "a", "b"):
        assert days.params_[k] == pytest.approx(weeks.params_[k], rel=1e-4)


@pytest.mark.parametrize(
    ("model", "simulate", "truth"),
    [
        (BetaGeoModel, simulate_bgnbd, {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 3.0}),
        (ParetoNBDModel, simulate_pareto, {"r": 0.6, "alpha": 5.0, "s": 0.7, "beta": 8.0}),
    ],
)
def test_recovers_parameters_and_forecasts_the_holdout(model, simulate, truth) -> None:
    X, future = simulate(20_000, seed=7)
    fitted = model().fit(X)
    for k, v in truth.items():
        assert fitted.params_[k] == pytest.approx(v, rel=0.2), k
    # forecasts vs what happened, by groups of customers (sampling error ~ 1 / sqrt(n))
    expected = fitted.expected_purchases(30.0, X)
    p_any = fitted.p_any_purchase(30.0, X)
    assert expected.mean() == pytest.approx(future.mean(), rel=0.05)
    assert p_any.mean() == pytest.approx((future > 0).mean(), abs=0.01)
    for grp in (X.frequency == 0, X.frequency.between(1, 3), X.frequency > 3):
        assert p_any[grp].mean() == pytest.approx((future[grp] > 0).mean(), abs=0.03)
        assert expected[grp].mean() == pytest.approx(future[grp].mean(), rel=0.1)
    alive = fitted.p_alive(X)
    assert ((alive >= 0) & (alive <= 1)).all()
    assert (p_any <= alive + 1e-12).all()


def test_heavy_buyers_get_finite_probabilities() -> None:
    """Quadrature weights for Gamma(r + x) overflowed from x ~ 171 (NaN for every heavy
    buyer); below that the stable weights give what scipy's weights gave."""
    pn = ParetoNBDModel()
    pn.params_ = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}  # CDNOW, weeks
    bg = BetaGeoModel()
    bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    x = np.array([0, 1, 5, 40, 150, 170, 171, 250, 1000, 5000], float)
    T = np.full_like(x, 38.86)
    X = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, T - 0.01, 0.0), "T": T})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for model in (pn, bg):
            p, alive = model.p_any_purchase(13.0, X), model.p_alive(X)
            assert np.isfinite(p).all() and np.isfinite(alive).all()
            assert ((p >= 0) & (p <= alive + 1e-12)).all()
            assert p[x >= 40].min() > 0.9  # bought just now, often: alive and buying
    # scipy's normalised weights where they do not overflow
    r, alpha, s, beta = 0.553, 10.578, 0.606, 11.669
    for k, ux in enumerate(x[x < 150]):
        gl, gw = special.roots_genlaguerre(24, r + ux - 1)
        ml, mw = special.roots_genlaguerre(24, s - 1)
        gw, mw = gw / gw.sum(), mw / mw.sum()
        lam = gl[:, None] / (alpha + T[k])
        mu = ml[None, :] / (beta + T[k])
        none = (mu + lam * np.exp(-(lam + mu) * 13.0)) / (lam + mu)
        want = pn.p_alive(X.iloc[[k]])[0] * (1 - gw @ none @ mw)
        assert pn.p_any_purchase(13.0, X.iloc[[k]])[0] == pytest.approx(want, rel=1e-12)


def test_bad_input_names_the_row() -> None:
    X = pd.DataFrame({"frequency": [1, 2], "recency": [3.0, 9.0], "T": [5.0, 8.0]})
    with pytest.raises(ValueError, match=r"row 1: frequency=2\.0, recency=9\.0, T=8\.0"):
        BetaGeoModel().fit(X)


def test_gamma_gamma_shrinks_towards_population_mean() -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    nu = rng.gamma(4.0, 1 / 0.1, n)  # nu ~ Gamma(q=4, rate gamma=0.1)
    x = rng.integers(1, 10, n).astype(float)
    m = rng.gamma(5.0 * x, 1 / (nu * x))  # mean of x amounts ~ Gamma(p=5, rate nu)
    gg = GammaGammaModel().fit(pd.DataFrame({"frequency": x, "monetary_value": m}))
    for k, v in {"p": 5.0, "q": 4.0, "v": 0.1}.items():
        assert gg.params_[k] == pytest.approx(v, rel=0.05), k
    spend = gg.expected_spend(
        pd.DataFrame({"frequency": [1.0, 50.0, 0.0], "monetary_value": [500.0, 500.0, 0.0]})
    )
    pop = gg.params_["p"] * gg.params_["v"] / (gg.params_["q"] - 1)
    assert pop < spend[0] < spend[1] < 500  # one purchase shrinks more than fifty
    assert spend[2] == pytest.approx(pop)


def test_p_any_purchase_is_the_same_by_blocks_as_alone() -> None:
    """Customers are taken by equal frequency, in blocks: each one's probability must be what
    it gets when scored alone, whatever its place among thousands of others."""
    pn = ParetoNBDModel()
    pn.params_ = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    rng = np.random.default_rng(3)
    n = 5_000  # several blocks of the commonest frequencies
    x = rng.poisson(1.5, n).astype(float)
    T = rng.uniform(1, 78, n)
    X = pd.DataFrame(
        {"frequency": x, "recency": np.where(x > 0, T * rng.uniform(size=n), 0), "T": T}
    )
    together = pn.p_any_purchase(13.0, X)
    for k in rng.choice(n, 40, replace=False):
        alone = pn.p_any_purchase(13.0, X.iloc[[k]])[0]
        assert together[k] == pytest.approx(alone, rel=1e-12)
