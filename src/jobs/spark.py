"""`customer-ml score --engine spark` (and `run`, `features`, `target` with it): the feature
store and the scores computed and written by Spark executors, as Parquet datasets, into one
folder replaced whole at the end.

Outputs: ``scores.parquet/`` (partitioned by ``spark.scores_partition_by``, default the
segment), ``features.parquet/`` + ``features.json`` (the feature store the service reads;
pandas and pyarrow read a dataset folder as one table) and ``metrics.json`` (the models, their
backtests and the score summary, as the local job writes it). The HTML report, scores.csv
and the migration tables need every row in one process and are written by the local engine
only.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from customer_ml.config import Config
from customer_ml.data.load import load_data
from customer_ml.data.spark import output_folder, spark_session
from customer_ml.errors import DataError
from customer_ml.features.spark import SparkData, load_spark_data, map_frames, spark_features
from customer_ml.files import atomic_dir, atomic_file
from customer_ml.jobs.batch import train_for_run
from customer_ml.report.metrics import SUMMARY_COUNTS, build_metrics
from customer_ml.scoring.campaign import (
    MANIFEST,
    TARGET_COLUMNS,
    campaign_folder,
    campaign_manifest,
    scores_as_of,
)
from customer_ml.scoring.feature_store import FRAME, META
from customer_ml.scoring.models import load_models
from customer_ml.scoring.playbook import apply_playbook
from customer_ml.scoring.playbook import playbook as rules_of
from customer_ml.scoring.spark import spark_scores, spark_store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "SparkJobResult",
    "print_spark_job",
    "run_spark_job",
    "spark_data",
    "spark_features_job",
    "spark_score_job",
    "spark_target",
]

SCORES = "scores.parquet"


@dataclass
class SparkJobResult:
    """What a Spark job wrote: the folder (or URL), the as_of day and the metrics."""

    folder: str
    as_of: dt.date
    metrics: dict[str, Any]

    @property
    def customers(self) -> int:
        return int(self.metrics["customers"])


def spark_data(config: Config, *, master: str | None = None) -> SparkData:
    """The session of the config (``master`` overrides ``spark.master``) and its data."""
    return load_spark_data(spark_session(config.spark, master=master), config)


def _summary(scores: DataFrame) -> dict[str, Any]:
    """`customer_ml.report.metrics.score_summary` by Spark aggregations (small results)."""
    from pyspark.sql import functions as F

    row = scores.agg(
        F.count("*"),
        F.avg("churn_probability"),
        F.sum("expected_purchases"),
        F.sum("predicted_ltv"),
        F.sum("value_at_risk"),
    ).first()
    assert row is not None
    out: dict[str, Any] = {
        "customers": int(row[0]),
        "churn_probability_mean": float(row[1]),
        "expected_purchases_total": float(row[2]),
        "predicted_ltv_total": None if row[3] is None else float(row[3]),
        "value_at_risk_total": float(row[4] or 0.0),
    }
    for c in SUMMARY_COUNTS:
        counts = scores.groupBy(c).count().orderBy(F.desc("count"), c).collect()
        out[f"by_{c}"] = {r[0]: int(r[1]) for r in counts}
    return out


def spark_score_job(
    config: Config,
    *,
    as_of: str | dt.date,
    out: str | Path | None = None,
    data: SparkData | None = None,
    master: str | None = None,
    promotions: dict[str, str] | None = None,
) -> SparkJobResult:
    """Score every customer seen up to `as_of` (rows with ts <= as_of only) with the
    registered champions on Spark and write the outputs into `out` (default: the config's
    paths.out; a local path or any URL Spark writes), replacing it whole."""
    data = data or spark_data(config, master=master)
    day = pd.Timestamp(as_of).date()
    models = load_models(config)
    store = spark_store(data, as_of=day, config=config, schema=models.schema)
    target = out if out is not None else config.paths.out
    with output_folder(data.spark, target) as folder:
        try:
            store.frame.write.mode("overwrite").parquet(folder.path(FRAME))
        finally:
            store.release()
        written = data.spark.read.parquet(folder.path(FRAME))
        scores = spark_scores(store, models, config, frame=written)
        parts = list(config.spark.scores_partition_by)
        scores.write.mode("overwrite").partitionBy(*parts).parquet(folder.path(SCORES))
        summary = _summary(data.spark.read.parquet(folder.path(SCORES)))
        metrics = build_metrics(
            config, models, None, as_of=day, promotions=promotions or {}, summary=summary
        )
        metrics["engine"] = "spark"
        meta = {
            "as_of": day.isoformat(),
            "horizon_days": store.store.horizon_days,
            "schema": store.store.schema,
            "btyd": store.store.btyd,
            "customers": summary["customers"],
        }
        folder.write_text(META, json.dumps(meta, indent=2))
        folder.write_text("metrics.json", json.dumps(metrics, indent=2, default=str))
    return SparkJobResult(str(target), day, metrics)


def run_spark_job(
    config: Config,
    *,
    as_of: str | dt.date | None = None,
    out: str | Path | None = None,
    reuse_models: bool = False,
    master: str | None = None,
    progress: Any = None,
) -> SparkJobResult:
    """`customer_ml.jobs.batch.run_job` with Spark scoring: the models train on the driver (the
    labelled snapshots of the backtest by DuckDB's SQL engine, the same definitions; rows up
    to as_of only), then Spark scores every customer and writes the outputs."""
    day, promotions = train_for_run(
        load_data(config), config, as_of=as_of, reuse_models=reuse_models, progress=progress
    )
    return spark_score_job(config, as_of=day, out=out, master=master, promotions=promotions)


def spark_features_job(
    config: Config,
    *,
    as_of: str | dt.date,
    out: str | Path,
    data: SparkData | None = None,
    master: str | None = None,
) -> int:
    """The behaviour vector and tags as of `as_of` written by Spark as a Parquet dataset
    folder `out` (replaced whole); returns the number of customers."""
    data = data or spark_data(config, master=master)
    frame = spark_features(data, as_of=as_of, config=config)
    with output_folder(data.spark, out) as folder:
        frame.write.mode("overwrite").parquet(folder.root)
        n = data.spark.read.parquet(folder.root).count()
    return n


def spark_target(
    config: Config, folder: Path, *, playbook: str, top: int, spark: SparkSession
) -> tuple[pd.DataFrame, Path]:
    """`customer_ml.scoring.targets.target_list` over the Spark scores in `folder` (a local
    folder): ranked, grouped (the same hash of campaign and customer id) and written by Spark;
    only the `top` treated customers shown reach the driver."""
    from pyspark.sql import functions as F

    if not (folder / SCORES).is_dir():
        raise DataError(
            f"{folder / SCORES}: no Spark scores; run `customer-ml score --engine spark`"
        )
    try:
        rules = rules_of(config, playbook)
    except KeyError as err:
        raise DataError(str(err.args[0])) from None
    scores = spark.read.parquet(str(folder / SCORES))

    def act(batch: pd.DataFrame) -> pd.DataFrame:
        batch[["recommended_action", "action_channel"]] = apply_playbook(batch, rules)
        return batch

    scores = map_frames(scores, act, scores.schema)
    as_of = scores_as_of(folder)
    campaign = f"{playbook}-{as_of}"
    # control_draw in SQL: the first 8 bytes of sha256(campaign NUL id) / 2^64
    digest = F.sha2(F.concat(F.lit(campaign + "\0"), F.col("customer_id")), 256)
    draw = F.conv(F.substring(digest, 1, 16), 16, 10).cast("decimal(20,0)").cast("double")
    share = config.monitoring.control_share
    group = F.when(draw / F.lit(2.0**64) < share, "control").otherwise("treated")
    ranked = scores.select(*TARGET_COLUMNS, group.alias("group")).orderBy(
        F.desc("value_at_risk"), "customer_id"
    )
    counts = dict(ranked.groupBy("group").count().collect())
    out = folder / f"target_{playbook}.csv"
    manifest = campaign_manifest(
        config,
        playbook=playbook,
        as_of=as_of,
        customers=int(sum(counts.values())),
        control=int(counts.get("control", 0)),
    )
    parts = Path(tempfile.mkdtemp(prefix=f".{out.name}.parts-", dir=folder))
    try:  # one sorted partition: one CSV file, written by an executor
        ranked.coalesce(1).write.mode("overwrite").csv(str(parts), header=True)
        (part,) = parts.glob("part-*.csv")
        with atomic_dir(campaign_folder(folder, campaign)) as tmp:
            shutil.copyfile(part, tmp / "list.csv")
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        with atomic_file(out) as tmp:
            part.replace(tmp)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    shown = ranked.where(F.col("group") == "treated").limit(top).toArrow().to_pandas()
    return shown, out


def print_spark_job(result: SparkJobResult, *, console: Any) -> None:
    """One line per output of a Spark job."""
    m = result.metrics
    ltv = m["scores"].get("predicted_ltv_total")
    console.print(
        f"scored {result.customers:,} customers as of {result.as_of} on Spark: mean churn "
        f"probability {m['scores']['churn_probability_mean']:.3f}"
        + (f", predicted LTV {ltv:,.0f}" if ltv is not None else "")
    )
    for task, entry in m["models"].items():
        console.print(f"  {task}: version {entry['version']} ({entry['gate'] or 'champion'})")
    console.print(f"wrote {result.folder}/ ({SCORES}/, {FRAME}/, {META}, metrics.json)")
