"""Labels from the window (as_of, as_of + horizon], and stacked training frames."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from customer_ml.config import FeaturesConfig
from customer_ml.data.dataset import Dataset
from customer_ml.data.io import fetch_one
from customer_ml.errors import DataError
from customer_ml.features.history import prepare_history, with_ids
from customer_ml.features.snapshot import build_snapshot, top_values
from customer_ml.features.timing import Cutoff, cutoff

__all__ = [
    "build_labels",
    "build_training_frame",
    "contractual_labels",
    "feature_schema",
    "labelled_snapshot",
    "labels_sql",
]


def build_labels(
    data: Dataset, *, as_of: str | dt.date | pd.Timestamp, horizon_days: int
) -> pd.DataFrame:
    """Per snapshot customer: ``future_purchases``, ``future_spend``, ``churned``.

    The label window is (as_of, as_of + horizon_days]: it starts right after the last row a
    snapshot as of `as_of` can see, so the two never overlap. Purchases are counted per
    customer-day like the features (a purchase that opened at or before `as_of` is
    not a future one); returns are not purchases. Only customers with a purchase
    at or before `as_of` get a label.
    """
    if horizon_days <= 0:
        raise ValueError("horizon_days must be positive")
    c = cutoff(as_of)
    h = c.plus_days(horizon_days)
    last = fetch_one(data.con, "SELECT max(ts) FROM transactions")[0]
    if last is None or pd.Timestamp(last) < h.end.normalize():
        raise DataError(
            f"the label window ({c.day} + {horizon_days} days, to {h.day}) runs past the last "
            f"transaction ({last}); choose an earlier as_of or a shorter horizon"
        )
    # the history holds customer numbers (ranked as the ids sort)
    sql = labels_sql(prepare_history(data), c, h, amount=data.has_amount, key="cust")
    return data.con.execute(f"{with_ids(sql)} ORDER BY cust").df()


def labels_sql(hist: str, c: Cutoff, h: Cutoff, *, amount: bool, key: str = "customer_id") -> str:
    """`build_labels` over the history table `hist` for the window (c, h]: rows with
    ts <= c say who is known, rows in (c, h] what they did (DuckDB and Spark SQL). `key`
    is the column that names the customer; the rows are in no order (callers sort once, on
    what they return)."""
    spend = ", sum(amount) FILTER (WHERE NOT is_return) AS future_spend" if amount else ""
    return f"""
        WITH known AS (
            SELECT DISTINCT {key} FROM {hist}
            WHERE ts <= {c.sql_end()} AND NOT is_return),
        future AS (
            SELECT {key}, count(*) FILTER (WHERE new_purchase) AS future_purchases{spend}
            FROM {hist}
            WHERE ts > {c.sql_end()} AND ts <= {h.sql_end()}
            GROUP BY {key})
        SELECT known.{key}, coalesce(future_purchases, 0) AS future_purchases
            {", coalesce(future_spend, 0) AS future_spend" if amount else ""},
            coalesce(future_purchases, 0) = 0 AS churned
        FROM known LEFT JOIN future USING ({key})
    """


def contractual_labels(data: Dataset) -> pd.DataFrame:
    """Contractual mode (e.g. Telco): the label is the customers table's `churned` column."""
    if "churned" not in data.customer_columns:
        raise DataError("contractual labels need customers.columns.churn_label in the config")
    return data.con.execute("SELECT customer_id, churned FROM customers ORDER BY customer_id").df()


def feature_schema(
    data: Dataset, *, as_of: str | dt.date | pd.Timestamp, config: FeaturesConfig
) -> dict[str, Any]:
    """The category, channel and event-type columns, fixed from data up to `as_of`, so that
    snapshots at later cutoffs share one schema (pass as keywords to `build_snapshot`)."""
    first = cutoff(as_of)
    cols = set(data.tx_columns)
    return {
        "categories": top_values(data, "transactions", "category", first, config.top_categories)
        if "category" in cols
        else [],
        "channels": top_values(data, "transactions", "channel", first, 10)
        if "channel" in cols
        else [],
        "event_types": top_values(data, "events", "event_type", first, 10)
        if data.has_events
        else None,
    }


def labelled_snapshot(
    data: Dataset,
    *,
    as_of: str | dt.date | pd.Timestamp,
    horizon_days: int,
    config: FeaturesConfig,
    schema: dict[str, Any],
) -> pd.DataFrame:
    """The snapshot as of `as_of` with its labels and an ``as_of`` column (second)."""
    snap = build_snapshot(data, as_of=as_of, config=config, **schema)
    lab = build_labels(data, as_of=as_of, horizon_days=horizon_days)
    frame = snap.merge(lab, on="customer_id", how="left", validate="one_to_one")
    frame.insert(1, "as_of", pd.Timestamp(cutoff(as_of).day))
    return frame


def build_training_frame(
    data: Dataset,
    *,
    as_of: str | dt.date | pd.Timestamp,
    horizon_days: int,
    n_cutoffs: int = 3,
    step_days: int | None = None,
    config: FeaturesConfig | None = None,
) -> pd.DataFrame:
    """Snapshots at as_of - k * step (k = 1..n_cutoffs) with their labels, stacked.

    Every label window ends at or before `as_of`, so the frame uses rows with ts <= as_of
    only. The ``as_of`` column keeps each row's cutoff for time-based validation; category,
    channel and event columns are fixed from data up to the earliest cutoff so every
    snapshot shares one schema.
    """
    step = step_days or horizon_days
    end = cutoff(as_of)
    cuts = [end.day - dt.timedelta(days=k * step) for k in range(n_cutoffs, 0, -1)]
    cuts = [d for d in cuts if d + dt.timedelta(days=horizon_days) <= end.day]
    if not cuts:
        raise DataError("no cutoff leaves a full label window before as_of")
    cfg = config or FeaturesConfig()
    schema = feature_schema(data, as_of=cuts[0], config=cfg)
    frames = [
        labelled_snapshot(data, as_of=d, horizon_days=horizon_days, config=cfg, schema=schema)
        for d in cuts
    ]
    return pd.concat(frames, ignore_index=True)
