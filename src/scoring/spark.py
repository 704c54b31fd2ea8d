"""Batch scoring on Apache Spark: the registered champions applied batch by batch on the
executors (``mapInArrow``), with the same `CustomerScorer` the local job and the service use,
so a customer gets the same segment, tags, scores, SHAP reasons and action on every engine.

What the driver computes (small, whatever the number of customers): the BTYD models, fit on
at most ``spark.btyd_fit_customers`` customers' (frequency, recency, T, monetary value), a
seeded sample beyond that; the tag reference (distinct values and counts of the ranked
columns); the reason base (median and spread of a few log columns). The feature store and
the scores are computed and written by the executors; no customer row is collected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from customer_ml.config import Config
from customer_ml.errors import DataError
from customer_ml.features.spark import (
    TAG_TYPES,
    SparkData,
    map_frames,
    spark_snapshot,
    spark_tag_reference,
    with_types,
)
from customer_ml.models.btyd_features import BTYD_COLUMNS, btyd_features, fit_btyd, to_params
from customer_ml.scoring.feature_store import FeatureStore, consolidate
from customer_ml.scoring.models import Models
from customer_ml.scoring.reasons import ReasonBase, driver_columns
from customer_ml.scoring.score import SCORE_COLUMNS, CustomerScorer

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["SCORE_TYPES", "SparkStore", "spark_scores", "spark_store"]

SCORE_TYPES = {
    "customer_id": "string",
    "segment": "bigint",
    "segment_name": "string",
    "value_tier": TAG_TYPES["value_tier"],
    "lifecycle_stage": TAG_TYPES["lifecycle_stage"],
    "rfm_score": TAG_TYPES["rfm_score"],
    "rfm_segment": TAG_TYPES["rfm_segment"],
    "tags": TAG_TYPES["tags"],
    "churn_probability": "double",
    "expected_purchases": "double",
    "predicted_ltv": "double",
    "value_at_risk": "double",
    "top_reasons": "array<string>",
    "ltv_reasons": "array<string>",
    "recommended_action": "string",
    "action_channel": "string",
}


@dataclass
class SparkStore:
    """The feature store as a Spark DataFrame, with what its local counterpart holds beside
    the frame (`empty`: its columns and types, no rows)."""

    frame: DataFrame
    store: FeatureStore
    snapshot: DataFrame  # persisted while the frame is computed from it

    def release(self) -> None:
        """Drop the persisted snapshot (once the frame is written)."""
        self.snapshot.unpersist()


def _fit_sample(snap: DataFrame, *, cap: int, seed: int) -> pd.DataFrame:
    """The BTYD summary of every customer, or of a seeded sample of about `cap` of them, in
    customer order (as the local snapshot: the same rows fit the same parameters)."""
    cols = [c for c in ("frequency", "recency", "T", "monetary_value") if c in snap.columns]
    summary = snap.select("customer_id", *cols)
    n = summary.count()
    if n == 0:
        raise DataError("no customer has a transaction on or before as_of")
    if n > cap:
        summary = summary.sample(fraction=min(1.0, 1.1 * cap / n), seed=seed).limit(cap)
    frame = summary.toArrow().to_pandas().sort_values("customer_id", kind="stable")
    return frame.drop(columns="customer_id").reset_index(drop=True)


def spark_store(
    data: SparkData, *, as_of: dt.date, config: Config, schema: dict[str, Any]
) -> SparkStore:
    """`customer_ml.scoring.feature_store.build_store` on Spark: the snapshot as of `as_of` (rows
    with ts <= as_of only) in the models' `schema`, with BTYD forecasts from models fit on
    that snapshot."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    # computed once: the BTYD sample, the mean spend and the store's rows all read it
    snap = spark_snapshot(data, as_of=as_of, config=config.features, **schema)
    snap = snap.persist(StorageLevel.MEMORY_AND_DISK)
    cap = config.spark.btyd_fit_customers
    fitted = fit_btyd(_fit_sample(snap, cap=cap, seed=config.seed), seed=config.seed)
    mean_spend = None
    if "monetary_mean" in snap.columns:
        row = snap.agg(F.avg("monetary_mean")).first()
        mean_spend = float(row[0]) if row and row[0] is not None else None
    horizon = config.horizon_days

    def forecast(batch: pd.DataFrame) -> pd.DataFrame:
        cols = btyd_features(batch, horizon_days=horizon, models=fitted, mean_spend=mean_spend)
        return pd.concat([batch, cols], axis=1)

    spend = "monetary_value" in snap.columns  # revenue columns need amounts
    names = [c for c in BTYD_COLUMNS if spend or (not c.startswith("gg_") and "_gg_" not in c)]
    frame = map_frames(snap, forecast, with_types(snap, dict.fromkeys(names, "double")))
    empty = frame.limit(0).toArrow().to_pandas()
    store = FeatureStore(
        empty,
        as_of=as_of,
        horizon_days=horizon,
        schema=schema,
        btyd={"params": to_params(fitted), "mean_spend": mean_spend},
    )
    return SparkStore(frame, store, snap)


def spark_reason_base(frame: DataFrame) -> ReasonBase:
    """`ReasonBase` of the population of `frame`: exact medians (Spark's ``percentile``,
    interpolated like numpy's) and population standard deviations of log1p(max(x, 0))."""
    from pyspark.sql import functions as F

    cols = driver_columns(frame.columns)
    if not cols:
        return ReasonBase.from_stats({}, {})
    aggs = []
    for c in cols:
        x = F.col(f"`{c}`").cast("double")
        logs = F.log1p(F.when(x < 0, F.lit(0.0)).otherwise(x))  # NULL stays (greatest skips it)
        logs = F.when(~F.isnan(logs), logs)  # numpy's nanmedian and nanstd skip NaN
        aggs += [F.percentile(logs, 0.5).alias(f"m_{c}"), F.stddev_pop(logs).alias(f"s_{c}")]
    row = frame.agg(*aggs).first()
    assert row is not None
    center = {c: float(row[f"m_{c}"]) if row[f"m_{c}"] is not None else 0.0 for c in cols}
    scale = {c: float(row[f"s_{c}"]) if row[f"s_{c}"] is not None else 1.0 for c in cols}
    return ReasonBase.from_stats(center, scale)


def spark_scores(
    store: SparkStore, models: Models, config: Config, *, frame: DataFrame | None = None
) -> DataFrame:
    """Scores of every row of `frame` (default: the store's; e.g. the store read back from
    Parquet) with the columns of `SCORE_COLUMNS`, scored on the executors. The tags and
    reasons rank customers against the store's whole population."""
    from pyspark.sql.types import StructType, _parse_datatype_string

    population = store.frame if frame is None else frame
    scorer = CustomerScorer(
        models,
        store.store,
        config,
        tag_reference=spark_tag_reference(population, config.tags),
        reason_base=spark_reason_base(population),
    )
    columns = store.store.frame.columns

    def score(batch: pd.DataFrame) -> pd.DataFrame:
        rows = consolidate(batch[columns])
        out = scorer.score(rows, workers=1)
        for c in ("top_reasons", "ltv_reasons", "tags"):
            out[c] = pd.Series(list(out[c]), dtype=object)  # Arrow list arrays as lists
        out["segment"] = np.asarray(out["segment"], np.int64)
        return out

    schema = StructType()
    for name in SCORE_COLUMNS:
        schema = schema.add(name, _parse_datatype_string(SCORE_TYPES[name]))
    return map_frames(population, score, schema)
