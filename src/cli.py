"""The `customer-ml` command line: thin wrappers over library functions."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from customer_ml.config import Config, ConfigError, load_config, parse_config
from customer_ml.data.io import DataError

app = typer.Typer(
    help="Customer segmentation, churn and lifetime value.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Generate and check data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="YAML config file.")]


def user_errors(fn: F) -> F:
    """Report bad input as one clear message and exit 2 (no traceback, nothing written)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, DataError) as err:
            err_console.print(f"[red]error:[/red] {err}", markup=True, highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


DEFAULT_CONFIG = {
    "data": {"synthetic": {"n_customers": 5000}},
    "horizon_days": 90,
    "paths": {"out": "out/demo", "mlruns": "mlruns"},
}


def _demo_config(path: Path | None) -> Config:
    if path is not None:
        return load_config(path)
    if Path("configs/default.yaml").is_file():
        return load_config("configs/default.yaml")
    return parse_config(DEFAULT_CONFIG, base_dir=Path.cwd())


@app.command()
@user_errors
def demo(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="default: configs/default.yaml")
    ] = None,
) -> None:
    """Run the main job end to end on synthetic data."""
    from customer_ml.pipeline import run_demo

    run_demo(_demo_config(config), console=console)


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


def _last_day(data: Any) -> str:
    rng = data.date_range()
    if rng is None:
        raise DataError("no transactions: give --as-of")
    return str(rng[1].date())


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    sys.exit(app())
