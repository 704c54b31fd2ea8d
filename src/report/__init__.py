"""metrics.json and report.html of a scoring run.

The report is for a person with five minutes: the key findings first (who the customers are,
where the value and the risk sit, how good the models are against the baselines, what moved),
then the data and its cleaning, segments, tags and actions, the churn and LTV backtests of
every candidate with confidence intervals and plots, the migration since the previous
run, and the recommendations when `recommend` ran for the same date. One self-contained HTML
file: style inline, plots as PNG data URIs, no script, nothing fetched
(`customer_ml.report.blocks`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd

from customer_ml.config import Config
from customer_ml.report.blocks import card, esc, kpis, page
from customer_ml.report.history import history_section
from customer_ml.report.metrics import build_metrics
from customer_ml.report.recs import recs_section
from customer_ml.report.sections import (
    backtest_section,
    data_section,
    findings,
    migration_section,
    segments_section,
    tags_section,
)

if TYPE_CHECKING:
    from customer_ml.scoring.results import JobResult

__all__ = ["build_metrics", "build_report"]


def build_report(result: JobResult, *, config: Config) -> str:
    """The run report as one self-contained HTML string."""
    s, m, models = result.scores, result.metrics, result.models
    ltv = s["predicted_ltv"].sum(min_count=1)
    h = config.horizon_days
    figures = {
        "customers": f"{len(s):,}",
        "segments": str(s["segment"].nunique()),
        "mean churn probability": f"{s['churn_probability'].mean():.1%}",
        f"predicted revenue, next {h} days": f"{ltv:,.0f}" if pd.notna(ltv) else "n/a",
        f"expected purchases, next {h} days": f"{s['expected_purchases'].sum():,.0f}",
        "value at risk": f"{s['value_at_risk'].sum():,.0f}",
    }
    points = "".join(f"<li>{x}</li>" for x in findings(result, config))
    body = [
        card(
            "summary",
            "At a glance",
            "",
            kpis(figures),
            f"<ul class='findings'>{points}</ul>",
        ),
        data_section(m.get("data") or {}),
        segments_section(result),
        tags_section(result, config),
        backtest_section("churn", m["models"]["churn"], models.runs.get("churn", "")),
        backtest_section("ltv", m["models"]["ltv"], models.runs.get("ltv", "")),
        migration_section(result),
    ]
    nav = {
        "summary": "At a glance",
        "data": "Data",
        "segments": "Segments",
        "tags": "Tags and actions",
        "churn": "Churn",
        "ltv": "Lifetime value",
        "migration": "Migration",
    }
    if result.recs is not None:
        segments = s.set_index(s["customer_id"].astype(str))["segment_name"]
        body.append(recs_section(result.recs, segments))
        nav["recommendations"] = "Recommendations"
    over_time = _history(config)
    if over_time:
        body.append(over_time)
        nav["history"] = "Over time"
    used = "; ".join(
        f"{t} v{esc(models.versions.get(t, '?'))} (run {esc(models.runs.get(t, '')[:8])}): "
        f"{esc(m['models'][t].get('gate', ''))}"
        for t in ("churn", "ltv", "segments")
    )
    from customer_ml.version import __version__

    return page(
        title=f"{config.project_name}: customers as of {result.as_of}",
        subtitle=f"customer-ml run report · horizon {h} days · "
        f"{len(s):,} customers scored with the registered champions",
        nav=nav,
        body=body,
        footer=f"Models: {used}. Written by customer-ml {esc(__version__)} on "
        f"{dt.date.today()}; the run's metrics.json holds every figure above.",
    )


def _history(config: Config) -> str:
    """The monitoring cycles logged for this project, over time ("" before the first)."""
    from customer_ml.tracking.history import monitoring_history

    history = monitoring_history(project=config.project_name, mlruns=config.paths.mlruns)
    return history_section(history, max_share_drifted=config.monitoring.max_share_drifted)
