"""The feature catalogue: a name, a one-line description and a unit for every feature."""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["describe", "feature_catalogue", "slug"]


def slug(value: object) -> str:
    """A column-name-safe form of a category, channel or event type."""
    s = re.sub(r"[^0-9a-zA-Z]+", "_", str(value)).strip("_").lower()
    return s or "blank"


# (pattern, description with {groups}, unit, family); the first match wins
_RULES: tuple[tuple[str, str, str, str], ...] = (
    (r"n_purchases", "purchases (customer-days) up to as_of", "purchases", "rfm"),
    (
        r"frequency",
        "repeat purchases (purchases after the first), BTYD frequency",
        "purchases",
        "btyd",
    ),
    (r"recency_days", "days since the last purchase", "days", "rfm"),
    (r"T", "days since the first purchase (BTYD T, customer age)", "days", "btyd"),
    (r"recency", "days between first and last purchase (BTYD recency t_x)", "days", "btyd"),
    (r"ipt_mean_days", "usual gap: mean days between purchases", "days", "timing"),
    (r"ipt_std_days", "spread of the gaps between purchases (std)", "days", "timing"),
    (r"last_gap_days", "gap between the last two purchases", "days", "timing"),
    (r"gap_ratio", "days since last purchase / usual gap", "ratio", "timing"),
    (r"monetary_mean", "average spend per purchase", "currency", "rfm"),
    (r"monetary_std", "spread of spend per purchase (std)", "currency", "rfm"),
    (
        r"monetary_value",
        "average spend per repeat purchase (Gamma-Gamma input)",
        "currency",
        "btyd",
    ),
    (r"monetary_total", "total spend, net of returns", "currency", "rfm"),
    (r"purchases_(\d+)d", "purchases in the last {0} days", "purchases", "window"),
    (
        r"purchases_trend_(\d+)d",
        "purchase trend: last {0} days vs the {0} before (-1..1)",
        "ratio",
        "window",
    ),
    (r"spend_(\d+)d", "spend in the last {0} days", "currency", "window"),
    (
        r"spend_trend_(\d+)d",
        "spend trend: last {0} days vs the {0} before (-1..1)",
        "ratio",
        "window",
    ),
    (r"dow_share_(\w+)", "share of purchases on {0}", "share", "timing"),
    (r"return_rate", "share of rows that are returns", "share", "basket"),
    (r"items_per_order", "items per order", "items", "basket"),
    (r"n_orders", "distinct orders", "orders", "basket"),
    (r"distinct_products", "distinct products bought", "products", "basket"),
    (r"distinct_categories", "distinct categories bought", "categories", "basket"),
    (r"category_share_(\w+)", "share of rows in category {0}", "share", "basket"),
    (r"channel_share_(\w+)", "share of rows through channel {0}", "share", "basket"),
    (r"days_since_last_event", "days since the last behaviour event", "days", "events"),
    (r"events_(\d+)d", "behaviour events in the last {0} days", "events", "events"),
    (r"events_(\w+?)_(\d+)d", "{0} events in the last {1} days", "events", "events"),
    (r"days_since_signup", "days since signup", "days", "attributes"),
    (r"attr_age_band", "age band", "band", "attributes"),
    (r"attr_(\w+)", "customer attribute {0}", "attribute", "attributes"),
)


def describe(name: str) -> tuple[str, str, str]:
    """(description, unit, family) of a feature name; KeyError for an unknown name."""
    for pattern, text, unit, family in _RULES:
        m = re.fullmatch(pattern, name)
        if m:
            return text.format(*m.groups()), unit, family
    raise KeyError(f"feature {name!r} is not in the catalogue")


def feature_catalogue(columns: list[str] | pd.Index) -> pd.DataFrame:
    """The catalogue rows for the feature columns of a snapshot (id and labels skipped)."""
    skip = {"customer_id", "as_of", "future_purchases", "future_spend", "churned"}
    rows = [(c, *describe(c)) for c in columns if c not in skip]
    return pd.DataFrame(rows, columns=["name", "description", "unit", "family"])
