"""Command: monitor (drift, realised performance and the retrain decision)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from customer_ml.cli.common import ConfigOpt, app, console, user_errors
from customer_ml.config import load_config


@app.command()
@user_errors
def monitor(
    config: ConfigOpt,
    reference: Annotated[
        Path, typer.Option("--reference", help="Output folder of an earlier run or score.")
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD: the date to monitor at.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for monitor.json/.html.")],
) -> None:
    """Drift since the reference run, its predictions against what happened, keep or retrain."""
    from customer_ml.monitoring.monitor import monitor as run_monitor

    result = run_monitor(load_config(config), reference=reference, as_of=as_of, out=out)
    rep = result.report
    console.print(f"decision: {result.decision}")
    for reason in rep["decision"]["reasons"]:
        console.print(f"  - {reason}")
    console.print(f"wrote {out.resolve()}: monitor.json, monitor.html")
