"""The `customer-ml` command line: thin wrappers over library functions."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
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
models_app = typer.Typer(help="The model registry: list and promote.", no_args_is_help=True)
app.add_typer(models_app, name="models")
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


AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="YYYY-MM-DD; default: config, else last day")
]


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar driven by the library's (what, done, total) callbacks; MLflow's own
    logging is kept to errors."""
    import mlflow  # noqa: F401  (configures its logger on import; quieten it after)
    from rich.progress import Progress

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("starting", total=1)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=max(total, 1))

        yield update


def _print_backtest(bt: Any, title: str) -> None:
    from customer_ml.pipeline import print_backtest

    print_backtest(bt, title, console=console)


@app.command()
@user_errors
def evaluate(
    config: ConfigOpt,
    as_of: AsOfOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="JSON report; default: <paths.out>/baselines.json")
    ] = None,
) -> None:
    """Backtest every baseline (churn and LTV) on rolling origins; print and write the report."""
    from customer_ml.data.load import load_data
    from customer_ml.train.jobs import evaluate_baselines

    cfg = load_config(config)
    target = out or cfg.paths.out / "baselines.json"
    with _progress() as progress:
        ev = evaluate_baselines(load_data(cfg), cfg, as_of=as_of, out=target, progress=progress)
    for task, bt in ev.backtests.items():
        origins = ", ".join(str(o) for o in bt.origins)
        _print_backtest(bt, f"{task}: baselines as of {ev.as_of} (origins {origins})")
    console.print(f"report -> {target}")


@app.command()
@user_errors
def train(
    task: Annotated[str, typer.Argument(help="churn, ltv, segments or all")],
    config: ConfigOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Backtest / search the candidates, fit the best, log it to MLflow, register it as
    challenger."""
    from customer_ml.data.load import load_data
    from customer_ml.train.jobs import resolve_as_of

    known = ("churn", "ltv", "segments")
    tasks: tuple[str, ...] = known if task == "all" else (task,)
    if any(t not in known for t in tasks):
        raise typer.BadParameter(
            f"task must be one of {', '.join(known)} or all", param_hint="TASK"
        )
    cfg = load_config(config)
    data = load_data(cfg)
    if not data.has_transactions:  # contractual data: churn only, cross-validated
        tasks = tuple(t for t in tasks if t == "churn") or tasks
    with _progress() as progress:
        day = resolve_as_of(data, cfg, as_of) if data.has_transactions else None
        _train_models(data, cfg, [t for t in tasks if t != "segments"], day, progress)
        if "segments" in tasks and day is not None:
            _train_segments(data, cfg, day, progress)


def _train_models(data: Any, cfg: Config, tasks: list[str], day: Any, progress: Any) -> None:
    from customer_ml.train.jobs import prepare_frames, train_task, write_report

    if not tasks:
        return
    frames = prepare_frames(data, cfg, as_of=day, progress=progress) if day else None
    for t in tasks:
        r = train_task(data, cfg, task=t, as_of=day, frames=frames, progress=progress)
        how = "5-fold CV" if r.backtest.horizon_days == 0 else f"as of {r.as_of}"
        _print_backtest(r.backtest, f"{r.task} {how}: chosen {r.chosen}")
        out = write_report(r, cfg.paths.out / f"train_{r.task}.json")
        console.print(
            f"registered {cfg.project_name}-{r.task} v{r.version} as challenger; backtest -> {out}"
        )


def _train_segments(data: Any, cfg: Config, day: Any, progress: Any) -> None:
    from customer_ml.pipeline import print_segments
    from customer_ml.train.segment_job import train_segments

    r = train_segments(data, cfg, as_of=day, progress=progress)
    print_segments(r.segmentation, f"segments as of {day}", console=console)
    console.print(f"registered {cfg.project_name}-segments v{r.version} as challenger")


@models_app.command("list")
@user_errors
def models_list(config: ConfigOpt) -> None:
    """Registered models of the config's project: versions, aliases, headline metrics."""
    from rich.table import Table

    from customer_ml.tracking.registry import list_versions
    from customer_ml.tracking.store import open_store

    cfg = load_config(config)
    df = list_versions(open_store(cfg.paths.mlruns), prefix=f"{cfg.project_name}-")
    if df.empty:
        console.print(f"no registered models for project {cfg.project_name}")
        return
    table = Table()
    for c in ("model", "version", "aliases", "candidate", "metric", "value", "95% CI", "as_of"):
        table.add_column(c, no_wrap=c in ("model", "aliases", "candidate", "as_of"))
    for r in df.itertuples():
        table.add_row(
            r.model,
            str(r.version),
            r.aliases,
            r.candidate,
            r.metric,
            f"{r.value:.4f}",
            f"[{r.ci_low:.4f}, {r.ci_high:.4f}]",
            r.as_of,
        )
    console.print(table)


@models_app.command("promote")
@user_errors
def models_promote(
    task: Annotated[str, typer.Argument(help="churn, ltv or segments")],
    config: ConfigOpt,
    force: Annotated[bool, typer.Option(help="Promote even if worse (recorded).")] = False,
) -> None:
    """Move `champion` to the challenger if it is at least as good on the same backtest."""
    from customer_ml.tracking.registry import promote
    from customer_ml.tracking.store import model_name, open_store

    cfg = load_config(config)
    result = promote(open_store(cfg.paths.mlruns), model_name(cfg.project_name, task), force=force)
    console.print(result.message)
    if not result.promoted:
        raise typer.Exit(1)


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
