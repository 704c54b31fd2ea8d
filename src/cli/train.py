"""Commands: evaluate and train."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from customer_ml.cli.common import (
    AsOfOpt,
    ConfigOpt,
    _print_backtest,
    _progress,
    app,
    console,
    user_errors,
)
from customer_ml.config import Config, load_config


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
    from customer_ml.report.console import print_segments
    from customer_ml.train.segment_job import train_segments

    r = train_segments(data, cfg, as_of=day, progress=progress)
    print_segments(r.segmentation, f"segments as of {day}", console=console)
    console.print(f"registered {cfg.project_name}-segments v{r.version} as challenger")
