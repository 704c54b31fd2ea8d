"""Shared by the commands: the Typer apps, consoles, options, error handling, progress."""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from customer_ml.config import Config, ConfigError, load_config, parse_config
from customer_ml.errors import DataError

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
            # soft_wrap: one line however narrow the terminal (logs and grep see it whole)
            err_console.print(
                f"[red]error:[/red] {err}", markup=True, highlight=False, soft_wrap=True
            )
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


EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="arrays, sql (DuckDB, this machine) or spark; default: the config's features.engine",
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master URL (spark://host:7077, yarn, local[*]); default: the config's "
        "spark.master",
    ),
]
ENGINES = ("arrays", "sql", "spark")


def with_engine(config: Config, engine: str | None, master: str | None) -> Config:
    """`config` with the engine and Spark master given on the command line."""
    if engine is not None and engine not in ENGINES:
        raise ConfigError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    update: dict[str, Any] = {}
    if engine is not None:
        update["features"] = config.features.model_copy(update={"engine": engine})
    if master is not None:
        update["spark"] = config.spark.model_copy(update={"master": master})
    return config.model_copy(update=update) if update else config


def is_spark(config: Config) -> bool:
    return config.features.engine == "spark"


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
    ours, handler = logging.getLogger("customer_ml"), _WarningLine()
    ours.addHandler(handler)
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("starting", total=1)

            def update(what: str, done: int, total: int) -> None:
                bar.update(task, description=what, completed=done, total=max(total, 1))

            yield update
    finally:
        ours.removeHandler(handler)


class _WarningLine(logging.Handler):
    """The library's warnings (e.g. a backtest reduced for a short history), one line each
    on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        err_console.print(
            f"[yellow]warning:[/yellow] {msg}", markup=True, highlight=False, soft_wrap=True
        )


def _print_backtest(bt: Any, title: str) -> None:
    from customer_ml.report.console import print_backtest

    print_backtest(bt, title, console=console)


def _last_day(data: Any) -> str:
    rng = data.date_range()
    if rng is None:
        raise DataError("no transactions: give --as-of")
    return str(rng[1].date())
