"""Commands: run, score, target, serve (the main job, batch scoring, action lists, the API)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from customer_ml.cli.common import (
    AsOfOpt,
    ConfigOpt,
    EngineOpt,
    SparkMasterOpt,
    _progress,
    app,
    console,
    is_spark,
    user_errors,
    with_engine,
)
from customer_ml.config import load_config

OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output folder; default: the config's paths.out")
]


@app.command()
@user_errors
def run(
    config: ConfigOpt,
    as_of: AsOfOpt = None,
    out: OutOpt = None,
    reuse_models: Annotated[
        bool, typer.Option("--reuse-models", help="Score with registered champions if present.")
    ] = False,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Train (or reuse), promote by the gate, score every customer and write the outputs."""
    from customer_ml.jobs.batch import run_job
    from customer_ml.report.console import print_job

    cfg = with_engine(load_config(config), engine, spark_master)
    if is_spark(cfg):
        from customer_ml.jobs.spark import print_spark_job, run_spark_job

        with _progress() as progress:
            done = run_spark_job(
                cfg, as_of=as_of, out=out, reuse_models=reuse_models, progress=progress
            )
        print_spark_job(done, console=console)
        return
    with _progress() as progress:
        result = run_job(cfg, as_of=as_of, out=out, reuse_models=reuse_models, progress=progress)
    print_job(result, console=console)


@app.command()
@user_errors
def score(
    config: ConfigOpt,
    as_of: AsOfOpt = None,
    out: OutOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Score with the champion models only (no training); migration against the folder's
    previous scores; the feature store for the service."""
    from customer_ml.data.load import load_data
    from customer_ml.jobs.batch import score_job
    from customer_ml.report.console import print_job
    from customer_ml.train.jobs import resolve_as_of

    cfg = with_engine(load_config(config), engine, spark_master)
    if is_spark(cfg):
        from customer_ml.jobs.spark import print_spark_job, spark_data, spark_score_job

        with _progress():
            sd = spark_data(cfg)
            done = spark_score_job(cfg, as_of=resolve_as_of(sd, cfg, as_of), out=out, data=sd)
        print_spark_job(done, console=console)
        return
    data = load_data(cfg)
    result = score_job(cfg, as_of=resolve_as_of(data, cfg, as_of), out=out, data=data)
    print_job(result, console=console)


@app.command()
@user_errors
def target(
    config: ConfigOpt,
    playbook: Annotated[
        str | None, typer.Option(help="Playbook name; default: the config's")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="How many customers to list.")] = 20,
    out: OutOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """List customers by expected value at risk (churn probability x predicted LTV) with
    the playbook's action; writes target_<playbook>.csv beside the scores."""
    from customer_ml.report.console import print_target
    from customer_ml.scoring.targets import target_list

    cfg = with_engine(load_config(config), engine, spark_master)
    folder = out or cfg.paths.out
    name = playbook or cfg.default_playbook
    if is_spark(cfg):
        from customer_ml.data.spark import spark_session
        from customer_ml.jobs.spark import spark_target

        session = spark_session(cfg.spark)
        table, path = spark_target(cfg, folder, playbook=name, top=top, spark=session)
    else:
        table, path = target_list(cfg, folder, playbook=name, top=top)
    print_target(table, title=f"top {top} by value at risk, playbook {name!r}", console=console)
    console.print(f"wrote {path}")


def _service_installed() -> bool:
    try:
        return importlib.util.find_spec("serving.service") is not None
    except ModuleNotFoundError:
        return False


@app.command()
@user_errors
def serve(
    config: ConfigOpt,
    port: Annotated[int | None, typer.Option(help="default: the config's serving.port")] = None,
    store: Annotated[
        Path | None, typer.Option(help="Feature store folder; default: the config's paths.out")
    ] = None,
) -> None:
    """Start the HTTP service (BentoML) on 127.0.0.1 with the champions and the feature store."""
    if not _service_installed():
        raise typer.BadParameter(
            "the service package `serving` is not importable: install customer-ml (its wheel "
            "ships it) or run from a checkout"
        )
    from serving.launch import service_command

    cfg = load_config(config)
    env = os.environ | {
        "CUSTOMER_ML_CONFIG": str(Path(config).resolve()),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    if store is not None:
        env["CUSTOMER_ML_STORE"] = str(store.resolve())
    cmd = service_command(cfg.serving.host, port or cfg.serving.port)
    console.print(" ".join(cmd))
    raise typer.Exit(subprocess.call(cmd, env=env))
