"""The recommendations section of the run report: what is recommended and why, how each
method did on the backtest, hit rates by segment, and coverage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from customer_ml.recs.published import Published
from customer_ml.recs.reasons import reason_kind
from customer_ml.report.blocks import card, grid, kpis, png, table

__all__ = ["backtest_tables", "hits_by_segment", "hits_figure", "recommended_figure"]
__all__ += ["recs_section"]

TASK_LABEL = {"all": "all products", "new": "new products"}


def _ci(row: dict[str, Any], col: str) -> str:
    lo, hi = row.get(f"{col}_lo"), row.get(f"{col}_hi")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return f"{row[col]:.3f}"
    return f"{row[col]:.3f} [{lo:.3f}, {hi:.3f}]"


def backtest_tables(metrics: dict[str, Any]) -> dict[str, tuple[pd.DataFrame, str]]:
    """Per task: every method's recall@k, NDCG@k (95 % intervals) and coverage, best first,
    and the champion's name."""
    k = metrics["k"]
    rows = pd.DataFrame(metrics["backtest"])
    out = {}
    for task, part in rows.groupby("task", sort=False):
        part = part.sort_values(f"ndcg@{k}", ascending=False)
        records = part.to_dict("records")
        t = pd.DataFrame(
            {
                f"NDCG@{k}": [_ci(r, f"ndcg@{k}") for r in records],
                f"recall@{k}": [_ci(r, f"recall@{k}") for r in records],
                "coverage": part["coverage"].to_numpy(),
                "customers": part["customers"].astype(int).to_numpy(),
            },
            index=pd.Index(part["method"].to_numpy(), name="method"),
        )
        out[str(task)] = (t, metrics["champion"][str(task)])
    return out


def hits_by_segment(hits: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    """Per task and segment (of the scores, by customer_id): customers judged at the cut,
    the share with at least one hit in the top k, and mean NDCG."""
    seg = segments.rename("segment_name")
    h = hits.assign(customer_id=hits["customer_id"].astype(str))
    h = h.join(seg, on="customer_id")
    h["segment_name"] = h["segment_name"].fillna("(not scored now)")
    h["hit"] = h["hits"] > 0
    g = h.groupby(["task", "segment_name"])
    return pd.DataFrame(
        {"customers": g.size(), "hit_rate": g["hit"].mean(), "ndcg": g["ndcg"].mean()}
    ).reset_index()


def hits_figure(by_segment: pd.DataFrame, *, k: int) -> Figure:
    """Hit rate at k by segment, one bar per task."""
    wide = by_segment.pivot(index="segment_name", columns="task", values="hit_rate")
    n = by_segment.groupby("segment_name")["customers"].max()
    wide = wide.loc[n.sort_values().index]
    fig = Figure(figsize=(7.0, 1.6 + 0.45 * len(wide)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(wide))
    tasks = [t for t in ("all", "new") if t in wide]
    height = 0.8 / max(1, len(tasks))
    for i, task in enumerate(tasks):
        bars = ax.barh(y + i * height, wide[task].to_numpy(), height, label=TASK_LABEL[task])
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in wide[task].fillna(0)], fontsize=8)
    ax.set_yticks(y + height * (len(tasks) - 1) / 2)
    ax.set_yticklabels([f"{s} ({n[s]:,})" for s in wide.index])
    ax.set_xlabel(f"share of customers with a purchase among their top {k}")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlim(0, 1.08)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    ax.set_title("Backtest hit rate by segment (customers judged)", loc="left")
    return fig


def recommended_figure(served: pd.DataFrame, *, k: int, top: int = 15) -> Figure:
    """The products most often in a customer's top k (task all), and the kinds of reason."""
    mine = served[(served.task == "all") & (served["rank"] <= k)]
    counts = mine.groupby("product_id").size().sort_values().tail(top)
    cats = mine.drop_duplicates("product_id").set_index("product_id")["category"]
    kinds = mine["reason"].map(reason_kind).value_counts(normalize=True).sort_values()
    fig = Figure(figsize=(11.0, 1.4 + 0.32 * top), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    labels = [
        f"{p} ({cats[p]})" if str(cats.get(p, "nan")) not in ("nan", "None", "") else str(p)
        for p in counts.index
    ]
    left.barh(labels, counts.to_numpy(), color="#4c72b0")
    left.set_xlabel(f"customers with the product in their top {k}")
    left.set_title("Most recommended products", loc="left")
    bars = right.barh(kinds.index, kinds.to_numpy(), color="#dd8452")
    right.bar_label(bars, labels=[f"{v:.1%}" for v in kinds], fontsize=8)
    right.set_xlim(0, min(1.0, float(kinds.max()) * 1.25))
    right.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    right.set_xlabel("share of the recommendations")
    right.set_title("Why they are recommended", loc="left")
    return fig


def recs_section(pub: Published, segments: pd.Series) -> str:
    """`segments`: segment_name by customer_id (str), of the run's scores."""
    k = int((pub.metrics or {}).get("k", 10))
    served = pub.served
    mine = served[(served.task == "all") & (served["rank"] <= k)]
    catalogue = served.product_id.nunique()
    figures = {
        "customers with recommendations": f"{mine.customer_id.nunique():,}",
        f"distinct products in a top {k}": f"{mine.product_id.nunique():,}",
    }
    parts = []
    if pub.metrics is not None:
        tables = backtest_tables(pub.metrics)
        for task, (t, champion) in tables.items():
            figures[f"NDCG@{k}, {TASK_LABEL.get(task, task)}"] = t.loc[champion, f"NDCG@{k}"]
            parts.append(
                f"<h3>{TASK_LABEL.get(task, task)}: champion {champion}</h3>"
                + table(t, formats={"coverage": "{:.1%}", "customers": "{:,}"}, chosen=champion)
            )
    figs = [png(recommended_figure(served, k=k), "most recommended products")]
    if pub.hits is not None and len(pub.hits):
        by_seg = hits_by_segment(pub.hits, segments)
        figs.append(png(hits_figure(by_seg, k=k), "hit rate by segment"))
    cut = (pub.metrics or {}).get("cut")
    judged = (
        f"Backtest: every method fitted on rows up to {cut} and judged on what customers bought "
        f"in the next days up to {pub.as_of} (all products, and products new to the "
        "customer); 95 % bootstrap intervals over customers; coverage is the share of the "
        "catalogue that appears in some top k. Segments are those of this run."
        if cut
        else "History too short for a backtest: the blend is used untested."
    )
    return card(
        "recommendations",
        "Recommendations",
        f"The top {k} products per customer from <code>customer-ml recommend</code> as of "
        f"{pub.as_of} ({catalogue:,} products in the served lists). {judged}",
        kpis(figures),
        grid(figs),
        *parts,
    )
