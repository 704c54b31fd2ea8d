"""Commands: models list and models promote."""

from __future__ import annotations

from typing import Annotated

import typer

from customer_ml.cli.common import ConfigOpt, console, models_app, user_errors
from customer_ml.config import load_config


@models_app.command("list")
@user_errors
def models_list(config: ConfigOpt) -> None:
    """Registered models of the config's project: versions, aliases, headline metrics."""
    from rich.table import Table

    from customer_ml.tracking.backend import open_store
    from customer_ml.tracking.registry import list_versions

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
    """Move `champion` to the challenger if it is better on the same backtest."""
    from customer_ml.jobs.batch import promote_model

    result = promote_model(load_config(config), task, force=force)
    console.print(result.message)
    if not result.promoted:
        raise typer.Exit(1)
