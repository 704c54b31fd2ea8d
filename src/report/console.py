"""What the commands print to a terminal: backtest tables, segments, a job's summary and a
target list (rich tables)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

__all__ = ["print_backtest", "print_job", "print_segments", "print_target"]


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


def print_job(result: Any, *, console: Console) -> None:
    """What a run or score wrote: the gate's verdicts, segments, actions, the folder."""
    for task, verdict in result.promotions.items():
        console.print(f"{task}: {verdict}")
    s = result.scores
    table = Table(title=f"customers as of {result.as_of}", title_justify="left")
    for c in ("segment", "customers", "mean churn", "value at risk"):
        table.add_column(c, justify="left" if c == "segment" else "right")
    g = s.groupby("segment_name")
    for name, n in g.size().sort_values(ascending=False).items():
        rows = g.get_group(name)
        table.add_row(
            str(name),
            f"{n:,}",
            f"{rows['churn_probability'].mean():.1%}",
            f"{rows['value_at_risk'].sum():,.0f}",
        )
    console.print(table)
    actions = s["recommended_action"].value_counts()
    console.print("actions: " + ", ".join(f"{k} {v:,}" for k, v in actions.items()))
    recs = result.metrics.get("recommendations") or {}
    if "note" in recs:
        console.print(f"[yellow]note:[/yellow] {recs['note']}")
    elif recs:
        console.print(
            f"top_products: {recs['k']} per customer from the recommendations as of "
            f"{recs['as_of']} (champion {recs['champion']})"
        )
    console.print(
        f"wrote {result.out.resolve()}: scores.parquet, scores.csv, metrics.json, report.html"
    )


def print_target(table: pd.DataFrame, *, title: str, console: Console) -> None:
    t = Table(title=title, title_justify="left")
    shown = ["customer_id", "segment_name", "churn_probability", "predicted_ltv"]
    shown += ["value_at_risk", "recommended_action"]
    table = table[shown]
    for c in table.columns:
        t.add_column(c.replace("_", " "), justify="right" if table[c].dtype.kind == "f" else "left")
    for row in table.itertuples(index=False):
        t.add_row(*(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row))
    console.print(t)
