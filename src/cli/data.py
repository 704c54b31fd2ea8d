"""Commands: demo, data generate, data check, features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from customer_ml.cli.common import (
    ConfigOpt,
    EngineOpt,
    SparkMasterOpt,
    _demo_config,
    _last_day,
    _progress,
    app,
    console,
    data_app,
    is_spark,
    user_errors,
    with_engine,
)
from customer_ml.config import Config, load_config


@app.command()
@user_errors
def demo(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="default: configs/default.yaml")
    ] = None,
) -> None:
    """Run the main job end to end on synthetic data."""
    from customer_ml.jobs.demo import run_demo

    cfg = _demo_config(config)
    with _progress() as progress:
        run_demo(cfg, console=console, progress=progress)


@data_app.command("generate")
@user_errors
def data_generate(
    out: Annotated[Path, typer.Option(help="Folder to write (replaced atomically).")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    days: Annotated[int, typer.Option(min=31, help="Days simulated.")] = 730,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2023-01-01",
    events: Annotated[bool, typer.Option(help="Also generate behaviour events.")] = True,
) -> None:
    """Generate synthetic customers, transactions and events (with the truth) as Parquet."""
    from customer_ml.data.generated import write_generated
    from customer_ml.data.synthetic import generate

    syn = generate(
        customers,
        seed=seed,
        start=start,
        days=days,
        acquisition_days=min(365, days - 1),
        with_events=events,
    )
    write_generated(syn, out)
    console.print(
        f"wrote {len(syn.transactions):,} transactions of {customers:,} customers "
        f"and {len(syn.events):,} events to {out}/ (config: {out}/config.yaml)"
    )


@data_app.command("check")
@user_errors
def data_check(config: ConfigOpt) -> None:
    """Load, validate and clean the data a config names, and print its profile."""
    from customer_ml.data.load import load_data
    from customer_ml.data.profile import print_profile

    print_profile(load_data(load_config(config)), console=console)


@app.command()
@user_errors
def features(
    config: ConfigOpt,
    out: Annotated[
        Path,
        typer.Option(help="Parquet file to write (a Parquet folder with Spark; replaced whole)."),
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD; default: config, else last day")
    ] = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Materialise the behaviour vector and tags as of a date to Parquet."""
    from rich.progress import Progress

    from customer_ml.data.load import load_data
    from customer_ml.features.materialise import build_features, write_features

    cfg = with_engine(load_config(config), engine, spark_master)
    if is_spark(cfg):
        _spark_features(cfg, out, as_of)
        return
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("loading data", total=3)
        data = load_data(cfg)
        day = as_of or cfg.as_of or _last_day(data)
        bar.update(task, advance=1, description=f"features as of {day}")
        frame = build_features(data, as_of=day, config=cfg)
        bar.update(task, advance=1, description=f"writing {out}")
        write_features(frame, out)
        bar.update(task, advance=1)
    console.print(
        f"{len(frame):,} customers x {frame.shape[1] - 2} features and tags as of {day} "
        f"(from {data.cleaning.rows_kept:,} transaction rows) -> {out}"
    )


def _spark_features(cfg: Config, out: Path, as_of: str | None) -> None:
    from customer_ml.jobs.spark import spark_data, spark_features_job
    from customer_ml.train.jobs import resolve_as_of

    with _progress():
        data = spark_data(cfg)
        day = resolve_as_of(data, cfg, as_of)
        n = spark_features_job(cfg, as_of=day, out=out, data=data)
    console.print(
        f"{n:,} customers: features and tags as of {day} (Spark, {cfg.spark.master}) -> {out}/"
    )
