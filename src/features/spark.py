"""The behaviour vector, labels and tags on Apache Spark: the SQL of the local engine
(`customer_ml.features.history`, `.snapshot`, `.labels`) run by Spark SQL, so both engines
follow one definition of every feature and the same point-in-time rules: a snapshot as of D
reads rows with ``ts <= D`` only (a date means the end of that day), labels only rows in
(D, D + horizon]. Tags rank each customer against the whole population through value counts
computed by Spark (`TagReference.from_counts`), then apply the local rules per batch.

Nothing here collects customers' rows to the driver: only the top categories and channels,
the first day and whether returns exist, and per ranked column its distinct values and counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from customer_ml.config import Config, FeaturesConfig, TagsConfig, location
from customer_ml.errors import DataError
from customer_ml.features.history import ORDER, PASSTHROUGH, derived_columns, purchase_unit
from customer_ml.features.labels import labels_sql
from customer_ml.features.snapshot import behaviour_sql, top_values_sql
from customer_ml.features.tags import TagReference, reference_columns, tag_columns
from customer_ml.features.timing import Cutoff, cutoff

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "SparkCutoff",
    "SparkData",
    "load_spark_data",
    "spark_features",
    "spark_labels",
    "spark_snapshot",
    "spark_tag_reference",
]

TX, HIST = "customer_ml_transactions", "customer_ml_history"
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class SparkCutoff(Cutoff):
    """A cutoff whose day is written as Spark's day number (``unix_date``), the type of
    ``day`` in the Spark history: day differences are integers, as in DuckDB."""

    def sql_day(self) -> str:
        return str((self.day - EPOCH).days)


def spark_cutoff(as_of: str | dt.date | pd.Timestamp) -> SparkCutoff:
    c = cutoff(as_of)
    return SparkCutoff(c.end, c.day)


@dataclass
class SparkData:
    """Canonical transactions in Spark and their history (the row flags of
    `customer_ml.features.history`), registered as temporary views and persisted."""

    spark: SparkSession
    transactions: DataFrame
    history: DataFrame
    tx_columns: tuple[str, ...]

    @property
    def has_amount(self) -> bool:
        return "amount" in self.tx_columns

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        row = self.spark.sql(f"SELECT min(ts), max(ts) FROM {TX}").first()
        if row is None or row[0] is None:
            return None
        return pd.Timestamp(row[0]), pd.Timestamp(row[1])

    def release(self) -> None:
        self.history.unpersist()


def spark_history(tx: DataFrame, *, merge_same_day: bool) -> DataFrame:
    """The history of canonical transactions `tx`: every row with its backward-looking
    flags (each depends on the row and the same customer's earlier rows only)."""
    from pyspark.sql import functions as F

    cols = set(tx.columns)
    unit = purchase_unit(cols, merge_same_day=merge_same_day)
    view = f"{TX}_numbered"
    tx.withColumn("_r", F.monotonically_increasing_id()).createOrReplaceTempView(view)
    keep = ", ".join(["customer_id", "ts", "day", *(c for c in PASSTHROUGH if c in cols)])
    extra = f", {ORDER}" if "order_id" in cols else ""
    return tx.sparkSession.sql(
        f"""SELECT {keep}, is_return, weekday(date_from_unix_date(day)) + 1 AS dow,
            {", ".join(derived_columns(cols, unit))}
        FROM (SELECT *, unix_date(CAST(ts AS DATE)) AS day{extra} FROM {view})
        WINDOW wp AS (PARTITION BY customer_id, is_return ORDER BY ts, _r)"""
    )


def load_spark_data(spark: SparkSession, config: Config) -> SparkData:
    """Read and clean the config's transactions with Spark; build and persist the history."""
    from pyspark import StorageLevel

    from customer_ml.data.spark import read_transactions, size_shuffle

    if config.data.transactions is not None:
        size_shuffle(spark, config.spark, location(config.data.transactions.path))
    tx = read_transactions(spark, config)
    tx.createOrReplaceTempView(TX)
    hist = spark_history(tx, merge_same_day=config.cleaning.merge_same_day)
    hist = hist.persist(StorageLevel.MEMORY_AND_DISK)
    hist.createOrReplaceTempView(HIST)
    return SparkData(spark, tx, hist, tuple(tx.columns))


def _top(data: SparkData, col: str, c: Cutoff, n: int) -> list[str]:
    if col not in data.tx_columns:
        return []
    return [str(r[0]) for r in data.spark.sql(top_values_sql(TX, col, c, n)).collect()]


def spark_snapshot(
    data: SparkData,
    *,
    as_of: str | dt.date | pd.Timestamp,
    config: FeaturesConfig | None = None,
    categories: list[str] | None = None,
    channels: list[str] | None = None,
    event_types: list[str] | None = None,
) -> DataFrame:
    """`customer_ml.features.build_snapshot` on Spark: one row per customer with a
    purchase at or before `as_of`, from rows with ``ts <= as_of`` only. `categories` and
    `channels` fix the share columns (default: the most frequent up to `as_of`);
    `event_types` is accepted for the models' schema (Spark reads no events)."""
    cfg = config or FeaturesConfig()
    c = spark_cutoff(as_of)
    if categories is None:
        categories = _top(data, "category", c, cfg.top_categories)
    if channels is None:
        channels = _top(data, "channel", c, 10)
    row = data.spark.sql(
        f"SELECT min(day), bool_or(is_return) FROM {HIST} WHERE ts <= {c.sql_end()}"
    ).first()
    start = EPOCH + dt.timedelta(days=int(row[0])) if row and row[0] is not None else None
    sql = behaviour_sql(
        HIST,
        c,
        cols=set(data.tx_columns),
        start=start,
        returns=bool(row and row[1]),
        windows=cfg.windows,
        categories=categories,
        channels=channels,
        spark=True,
    )
    return data.spark.sql(sql)


def spark_labels(
    data: SparkData, *, as_of: str | dt.date | pd.Timestamp, horizon_days: int
) -> DataFrame:
    """`customer_ml.features.build_labels` on Spark: from rows in (as_of, as_of + horizon]
    only, for the customers with a purchase at or before `as_of`."""
    if horizon_days <= 0:
        raise ValueError("horizon_days must be positive")
    c = spark_cutoff(as_of)
    h = c.plus_days(horizon_days)
    last = data.spark.sql(f"SELECT max(ts) FROM {TX}").first()
    last_ts = last[0] if last else None
    if last_ts is None or pd.Timestamp(last_ts) < h.end.normalize():
        raise DataError(
            f"the label window ({c.day} + {horizon_days} days, to {h.day}) runs past the last "
            f"transaction ({last_ts}); choose an earlier as_of or a shorter horizon"
        )
    return data.spark.sql(f"{labels_sql(HIST, c, h, amount=data.has_amount)} ORDER BY customer_id")


def spark_tag_reference(frame: DataFrame, config: TagsConfig) -> TagReference:
    """The population of `frame` as a tag reference: per ranked column its distinct
    non-missing values and their counts (one small aggregation each)."""
    counts = {}
    for col in reference_columns(frame.columns, config):
        rows = frame.where(f"`{col}` IS NOT NULL AND NOT isnan(`{col}`)").groupBy(col).count()
        table = rows.toArrow()
        counts[col] = (
            table.column(0).to_numpy(zero_copy_only=False).astype(float),
            table.column(1).to_numpy(zero_copy_only=False).astype(np.int64),
        )
    return TagReference.from_counts(counts, [])


TAG_TYPES = {
    "value_score": "double",
    "value_tier": "string",
    "lifecycle_stage": "string",
    "r_score": "bigint",
    "f_score": "bigint",
    "m_score": "bigint",
    "rfm_score": "string",
    "rfm_segment": "string",
    "tags": "array<string>",
}


def map_frames(
    frame: DataFrame, fn: Any, schema: Any, *, columns: list[str] | None = None
) -> DataFrame:
    """`frame` mapped batch by batch through ``fn(pandas frame) -> pandas frame`` on the
    executors (Arrow in and out), the result typed as `schema` (a StructType)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    arrow_schema = to_arrow_schema(schema)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            out = fn(batch.to_pandas())
            table = pa.Table.from_pandas(out, preserve_index=False)
            yield from table.select(arrow_schema.names).cast(arrow_schema).to_batches()

    return frame.mapInArrow(run, schema)


def with_types(frame: DataFrame, types: dict[str, str]) -> Any:
    """`frame`'s schema with the columns of `types` (a name -> Spark type) appended."""
    from pyspark.sql.types import StructType, _parse_datatype_string

    schema = StructType(list(frame.schema.fields))
    for name, kind in types.items():
        schema = schema.add(name, _parse_datatype_string(kind))
    return schema


def spark_features(
    data: SparkData, *, as_of: str | dt.date | pd.Timestamp, config: Config
) -> DataFrame:
    """`customer_ml.features.build_features` on Spark: the behaviour vector with an
    ``as_of`` column (second) and the tags, one row per customer seen up to `as_of`."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    # computed once: the reference's value counts and the tags read it
    snap = spark_snapshot(data, as_of=as_of, config=config.features)
    snap = snap.persist(StorageLevel.MEMORY_AND_DISK)
    reference = spark_tag_reference(snap, config.tags)
    tags_cfg = config.tags

    def tag(batch: pd.DataFrame) -> pd.DataFrame:
        tags = tag_columns(batch, tags_cfg, reference)
        return pd.concat([batch, pd.DataFrame(tags, index=batch.index)], axis=1)

    tagged = map_frames(snap, tag, with_types(snap, TAG_TYPES))
    day = pd.Timestamp(as_of).normalize()
    cols = [F.col("customer_id"), F.lit(day.to_pydatetime()).cast("timestamp_ntz").alias("as_of")]
    return tagged.select(*cols, *(F.col(f"`{c}`") for c in tagged.columns[1:]))
