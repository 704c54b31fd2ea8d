"""The main job, step by step; grows as segmentation, scoring and the report land."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from customer_ml.config import Config
from customer_ml.data.load import load_data
from customer_ml.data.profile import print_profile

__all__ = ["print_backtest", "print_segments", "run_demo"]


def print_backtest(bt: Any, title: str, *, console: Console) -> None:
    """Every candidate's headline metrics with 95 % CIs, best first."""
    t = bt.table()
    n = bt.per_origin.groupby("origin")["n"].first()
    sizes = ", ".join(f"{int(v):,}" for v in n)
    table = Table(title=f"{title}; customers per origin {sizes}", title_justify="left")
    table.add_column("candidate", no_wrap=True)
    for c in t.columns:
        table.add_column(str(c), justify="right")
    for name, row in t.iterrows():
        table.add_row(str(name), *(str(v) for v in row))
    console.print(table)


def print_segments(seg: Any, title: str, *, console: Console) -> None:
    """Segment names, sizes, revenue shares and the chosen solution's quality."""
    q = seg.quality
    table = Table(
        title=f"{title}: {seg.params['algorithm']}, k={seg.params['k']}, "
        f"{seg.params['transform']}; silhouette {q['silhouette']:.3f}, "
        f"stability (ARI) {q['stability']:.3f}",
        title_justify="left",
    )
    for c in ("segment", "name", "customers", "share", "revenue share"):
        table.add_column(c, justify="left" if c in ("segment", "name") else "right")
    for k, row in seg.profile.iterrows():
        rev = f"{row['revenue_share']:.1%}" if "revenue_share" in row else ""
        table.add_row(
            str(k), seg.names[k], f"{int(row['customers']):,}", f"{row['share']:.1%}", rev
        )
    console.print(table)


def run_demo(config: Config, *, console: Console, progress: Any = None) -> None:
    """Generate (or load) the demo data, profile it, then backtest, tune, log and register
    the churn and LTV models."""
    from customer_ml.train.jobs import TASKS, prepare_frames, resolve_as_of, train_task

    t = time.perf_counter()
    console.rule("customer-ml demo: data")
    data = load_data(config)
    print_profile(data, console=console)
    day = resolve_as_of(data, config, None)
    console.rule(f"churn and LTV as of {day} (horizon {config.horizon_days} days)")
    frames = prepare_frames(data, config, as_of=day, progress=progress)
    for task in TASKS:
        r = train_task(data, config, task=task, as_of=day, frames=frames, progress=progress)
        print_backtest(r.backtest, f"{task}: chosen {r.chosen}", console=console)
        console.print(f"registered {config.project_name}-{task} v{r.version} as challenger")
    from customer_ml.train.segment_job import train_segments

    seg = train_segments(data, config, as_of=day, progress=progress)
    print_segments(seg.segmentation, f"segments as of {day}", console=console)
    console.print(f"registered {config.project_name}-segments v{seg.version} as challenger")
    console.print(f"done in {time.perf_counter() - t:.1f} s")
