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


@app.command()
@user_errors
def measure(
    config: ConfigOpt,
    campaign: Annotated[
        Path, typer.Option("--campaign", help="Campaign folder written by `target`.")
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD, after the horizon.")],
    level: Annotated[float, typer.Option(min=0.5, max=0.999, help="Confidence level.")] = 0.95,
) -> None:
    """Treated against control after the campaign's horizon: retention and spend, the
    difference with its interval and p-value, the value per treated customer."""
    import json

    from customer_ml.data.load import load_data
    from customer_ml.files import atomic_file
    from customer_ml.scoring.campaign import measure_campaign

    result = measure_campaign(load_data(load_config(config)), campaign, as_of=as_of, level=level)
    for what in ("retention", "spend"):
        if what in result:
            r = result[what]
            console.print(
                f"{what}: treated {r['treated']:.4g}, control {r['control']:.4g}, difference "
                f"{r['difference']:+.4g} ({level:.0%} CI {r['ci_low']:+.4g} to "
                f"{r['ci_high']:+.4g}), p = {r['p_value']:.3g}"
            )
    with atomic_file(campaign / "measure.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {(campaign / 'measure.json').resolve()}")


@app.command()
@user_errors
def cycle(
    config: ConfigOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD: the date of this cycle.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run folder; default: the config's")
    ] = None,
) -> None:
    """Monitor the last run, retrain when the decision says so (the champion moves only
    through the promotion gate), score: one command for a scheduler."""
    from customer_ml.monitoring.cycle import cycle_job, cycles_folder
    from customer_ml.report.console import print_job

    cfg = load_config(config)
    done = cycle_job(cfg, as_of=as_of, out=out)
    if done.monitoring is None:
        console.print("first cycle: no earlier run to monitor; trained and scored")
    else:
        console.print(f"decision: {done.monitoring.decision}")
        for reason in done.monitoring.report["decision"]["reasons"]:
            console.print(f"  - {reason}")
    print_job(done.result, console=console)
    moved = ", ".join(f"{t} v{done.champions_after[t]}" for t in done.promoted) or "none"
    console.print(f"champions promoted: {moved}")
    folder = cycles_folder(out if out is not None else cfg.paths.out)
    console.print(f"cycle reports in {(folder / done.as_of.isoformat()).resolve()}")
