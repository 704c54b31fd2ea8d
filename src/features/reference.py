"""A straightforward pandas groupby version of the snapshot's behaviour features.

Plain, unoptimised code: it exists to check the DuckDB implementation (the tests compare the
two on data with returns, same-day rows and mid-day cutoffs) and to be the "obvious
alternative" that the benchmark in ``bench/`` measures against. Uses rows with
``ts <= as_of`` only, with the definitions of :func:`customer_ml.features.build_snapshot`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from customer_ml.features.snapshot import slug
from customer_ml.features.timing import cutoff

__all__ = ["reference_snapshot"]

DOW = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _purchases(buy: pd.DataFrame, merge_same_day: bool) -> pd.DataFrame:
    """One row per purchase (customer-day, or order, or row), ordered by customer and time."""
    has_amount = "amount" in buy.columns
    if merge_same_day or "order_id" in buy.columns:
        unit = buy["day"] if merge_same_day else buy["order_id"]
        agg = {"day": ("day", "min"), "ts": ("ts", "min")}
        if has_amount:
            agg["amount"] = ("amount", "sum")
        keys = [buy["customer_id"], unit.rename("_unit")]
        p = buy.groupby(keys, observed=True, sort=False).agg(**agg).reset_index()
    else:
        p = buy
    return p.sort_values(["customer_id", "ts"], kind="stable")


def _windows(p: pd.DataFrame, d: pd.Timestamp, windows: tuple[int, ...]) -> pd.DataFrame:
    age = (d - p["day"]).dt.days
    out = {}
    by = p["customer_id"]
    for w in windows:
        recent, before = age < w, (age >= w) & (age < 2 * w)
        n_r = recent.groupby(by, observed=True).sum()
        n_b = before.groupby(by, observed=True).sum()
        out[f"purchases_{w}d"] = n_r
        out[f"purchases_trend_{w}d"] = (n_r - n_b) / np.maximum(n_r + n_b, 1)
        if "amount" in p.columns:
            s_r = p["amount"].where(recent, 0.0).groupby(by, observed=True).sum()
            s_b = p["amount"].where(before, 0.0).groupby(by, observed=True).sum()
            out[f"spend_{w}d"] = s_r
            out[f"spend_trend_{w}d"] = (s_r - s_b) / np.maximum(s_r.abs() + s_b.abs(), 1e-9)
    return pd.DataFrame(out)


def _purchase_features(p: pd.DataFrame, d: pd.Timestamp, windows: tuple[int, ...]) -> pd.DataFrame:
    by = p["customer_id"]
    gap = p.groupby(by, observed=True)["day"].diff().dt.days
    g = p.groupby(by, observed=True)
    n = g.size()
    f = pd.DataFrame({"n_purchases": n, "frequency": n - 1})
    f["recency_days"] = (d - g["day"].max()).dt.days
    f["T"] = (d - g["day"].min()).dt.days
    f["recency"] = (g["day"].max() - g["day"].min()).dt.days
    gg = gap.groupby(by, observed=True)
    f["ipt_mean_days"] = gg.mean()
    f["ipt_std_days"] = gg.std()
    f["last_gap_days"] = gg.last()
    f["gap_ratio"] = f["recency_days"] / f["ipt_mean_days"].replace(0, np.nan)
    if "amount" in p.columns:
        a = g["amount"]
        f["monetary_mean"] = a.sum() / n
        f["monetary_std"] = a.std()
        f["monetary_value"] = ((a.sum() - a.first()) / (n - 1)).where(n > 1, 0.0)
    f = f.join(_windows(p, d, windows))
    dow = p["day"].dt.day_of_week
    for k, name in enumerate(DOW):
        f[f"dow_share_{name}"] = (dow == k).groupby(by, observed=True).sum() / n
    return f


def _basket_features(
    t: pd.DataFrame, buy: pd.DataFrame, n: pd.Series, categories: list[str], channels: list[str]
) -> pd.DataFrame:
    by = t["customer_id"]
    g = t.groupby(by, observed=True)
    f = pd.DataFrame({"return_rate": g["is_return"].mean()})
    if "amount" in t.columns:
        f["monetary_total"] = g["amount"].sum()
    gb = buy.groupby("customer_id", observed=True)
    if "quantity" in t.columns:
        per = gb["order_id"].nunique() if "order_id" in t.columns else n
        f["items_per_order"] = gb["quantity"].sum() / per.replace(0, np.nan)
    if "order_id" in t.columns:
        f["n_orders"] = gb["order_id"].nunique()
    if "product_id" in t.columns:
        f["distinct_products"] = g["product_id"].nunique()
    if "category" in t.columns:
        f["distinct_categories"] = g["category"].nunique()
        for v in categories:
            f[f"category_share_{slug(v)}"] = (t["category"] == v).groupby(by, observed=True).mean()
    for v in channels:
        f[f"channel_share_{slug(v)}"] = (t["channel"] == v).groupby(by, observed=True).mean()
    return f


def reference_snapshot(
    transactions: pd.DataFrame,
    *,
    as_of: str | dt.date | pd.Timestamp,
    windows: tuple[int, ...] = (30, 90, 180, 365),
    categories: list[str] | None = None,
    channels: list[str] | None = None,
    merge_same_day: bool = True,
) -> pd.DataFrame:
    """The behaviour features of `build_snapshot` from a canonical transactions frame.

    `transactions` has ``customer_id, ts, is_return`` and any of ``amount, quantity, order_id,
    product_id, category, channel``. Uses rows with ``ts <= as_of`` only.
    """
    c = cutoff(as_of)
    d = pd.Timestamp(c.day)
    t = transactions[transactions["ts"] <= c.end]
    t = t.assign(customer_id=t["customer_id"].astype(str), day=t["ts"].dt.normalize())
    if "order_id" in t.columns:  # a row without an order id is an order of its own
        own = pd.Series([f"\0{i}" for i in range(len(t))], index=t.index)
        t = t.assign(order_id=t["order_id"].astype(object).where(t["order_id"].notna(), own))
    buy = t[~t["is_return"]]
    p = _purchases(buy, merge_same_day)
    f = _purchase_features(p, d, windows)
    f = f.join(_basket_features(t, buy, f["n_purchases"], categories or [], channels or []))
    f.index.name = "customer_id"
    return f.sort_index().reset_index()
