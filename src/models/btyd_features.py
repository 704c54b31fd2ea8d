"""BTYD forecasts for one snapshot, as columns: the baselines and features for learned models.

Each model is fit on the snapshot it scores (the BTYD summary as of the snapshot's cutoff,
in days), so a snapshot's forecasts use rows with ts <= as_of only, exactly as the snapshot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_ml.features.arrays import round_bits
from customer_ml.models.btyd import BetaGeoModel, GammaGammaModel, ParetoNBDModel

__all__ = ["BTYD_COLUMNS", "Fitted", "btyd_features", "fit_btyd", "from_params", "to_params"]

BTYD_COLUMNS = {
    "bgnbd_p_alive": "BG/NBD probability that the customer is still active",
    "bgnbd_expected_purchases": "BG/NBD expected purchases in the horizon",
    "bgnbd_p_any": "BG/NBD probability of at least one purchase in the horizon",
    "pnbd_p_alive": "Pareto/NBD probability that the customer is still active",
    "pnbd_expected_purchases": "Pareto/NBD expected purchases in the horizon",
    "pnbd_p_any": "Pareto/NBD probability of at least one purchase in the horizon",
    "gg_expected_spend": "Gamma-Gamma expected spend per purchase",
    "bgnbd_gg_revenue": "BG/NBD x Gamma-Gamma expected revenue in the horizon",
    "pnbd_gg_revenue": "Pareto/NBD x Gamma-Gamma expected revenue in the horizon",
}

MIN_CUSTOMERS = 20


def _summary(snapshot: pd.DataFrame) -> pd.DataFrame:
    """frequency / recency / T in days; a first purchase on the cutoff day has T = 0 (the
    cutoff is the end of that day), which is given half a day of exposure."""
    s = snapshot[["frequency", "recency", "T"]].astype(float)
    s["T"] = s["T"].clip(lower=0.5)
    return s


Fitted = tuple[BetaGeoModel, ParetoNBDModel, GammaGammaModel | None]


def to_params(models: Fitted) -> dict[str, dict[str, float] | None]:
    """The fitted parameters, JSON-safe (stored beside a feature store)."""
    bg, pn, gg = models
    return {"bgnbd": bg.params_, "pnbd": pn.params_, "gg": gg.params_ if gg else None}


def from_params(params: dict[str, dict[str, float] | None]) -> Fitted:
    """Models from `to_params` output, ready to forecast (no refit)."""
    bg, pn = BetaGeoModel(), ParetoNBDModel()
    bg.params_, pn.params_ = dict(params["bgnbd"] or {}), dict(params["pnbd"] or {})
    gg = None
    if params.get("gg"):
        gg = GammaGammaModel()
        gg.params_ = dict(params["gg"] or {})
    return bg, pn, gg


def fit_btyd(snapshot: pd.DataFrame, *, seed: int = 0) -> Fitted:
    """BG/NBD, Pareto/NBD and (with amounts and enough repeat buyers) Gamma-Gamma."""
    if len(snapshot) < MIN_CUSTOMERS:
        raise ValueError(
            f"BTYD models need at least {MIN_CUSTOMERS} customers in a snapshot, got "
            f"{len(snapshot)}"
        )
    s = _summary(snapshot)
    bg = BetaGeoModel().fit(s)
    pn = ParetoNBDModel(random_state=seed).fit(s)
    gg = None
    if "monetary_value" in snapshot:
        # spend means rounded to 40 bits: the Gamma-Gamma likelihood has a flat ridge, where
        # last-bit differences of the inputs (sums in another order) move the optimum far
        spend = round_bits(snapshot["monetary_value"])
        m = pd.DataFrame({"frequency": s["frequency"], "monetary_value": spend}, index=s.index)
        if ((m["frequency"] > 0) & (m["monetary_value"] > 0)).sum() >= MIN_CUSTOMERS:
            gg = GammaGammaModel().fit(m)
    return bg, pn, gg


def btyd_features(
    snapshot: pd.DataFrame,
    *,
    horizon_days: int,
    seed: int = 0,
    models: Fitted | None = None,
    mean_spend: float | None = None,
) -> pd.DataFrame:
    """The columns of BTYD_COLUMNS for every row of `snapshot` (revenue ones need amounts).

    Uses the snapshot's own columns only (frequency, recency, T, monetary_value/mean), so it
    sees what the snapshot saw. The models are fit on the snapshot unless given (`models`,
    e.g. those fit on the feature store's snapshot, to score a single customer the same way);
    `mean_spend` is the fallback spend per purchase without Gamma-Gamma.
    """
    bg, pn, gg = models or fit_btyd(snapshot, seed=seed)
    s = _summary(snapshot)
    t = float(horizon_days)
    out = pd.DataFrame(index=snapshot.index)
    out["bgnbd_p_alive"] = bg.p_alive(s)
    out["bgnbd_expected_purchases"] = bg.expected_purchases(t, s)
    out["bgnbd_p_any"] = bg.p_any_purchase(t, s)
    out["pnbd_p_alive"] = pn.p_alive(s)
    out["pnbd_expected_purchases"] = pn.expected_purchases(t, s)
    out["pnbd_p_any"] = pn.p_any_purchase(t, s)
    if "monetary_value" in snapshot:
        if gg is not None:
            spend = gg.expected_spend(
                pd.DataFrame(
                    {"frequency": s["frequency"], "monetary_value": snapshot["monetary_value"]}
                )
            )
        else:  # too few repeat buyers for Gamma-Gamma: the mean spend per purchase
            fallback = np.nanmean(snapshot["monetary_mean"]) if mean_spend is None else mean_spend
            spend = np.full(len(s), float(fallback))
        out["gg_expected_spend"] = spend
        out["bgnbd_gg_revenue"] = out["bgnbd_expected_purchases"] * spend
        out["pnbd_gg_revenue"] = out["pnbd_expected_purchases"] * spend
    return out
