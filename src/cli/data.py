"""Commands: demo, data generate, data check, features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from customer_ml.cli.common import (
    ConfigOpt,
    _demo_config,
    _last_day,
    _progress,
    app,
    console,
    data_app,
    user_errors,
)
from customer_ml.config import load_config


@app.command()
@user_errors
def demo(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="default: configs/default.yaml")
    ] = None,
) -> None:
    """Run the main job end to end on synthetic data."""
    from customer_ml.pipeline import run_demo

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
    out: Annotated[Path, typer.Option(help="Parquet file to write (replaced atomically).")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD; default: config, else last day")
    ] = None,
) -> None:
    """Materialise the behaviour vector and tags as of a date to Parquet."""
    from rich.progress import Progress

    from customer_ml.data.load import load_data
    from customer_ml.features.store import build_features, write_features

    cfg = load_config(config)
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
