"""monitor.html: the monitoring report in the run report's blocks (one self-contained page,
style inline, no script, nothing fetched)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from customer_ml.config import Config
from customer_ml.report.blocks import card, esc, kpis, page, table
from customer_ml.report.history import history_section

__all__ = ["monitor_html"]


def _fmt(v: Any, fmt: str = "{:.3f}") -> str:
    return fmt.format(v) if isinstance(v, int | float) and pd.notna(v) else "n/a"


def _drift_table(per: dict[str, dict[str, Any]]) -> str:
    if not per:
        return "<p class='lead'>(nothing to compare)</p>"
    df = pd.DataFrame(per).T[["drifted", "statistic", "threshold", "method"]]
    df = df.sort_values(["drifted", "statistic"], ascending=[False, False])
    return table(df, formats={"statistic": "{:.4g}", "threshold": "{:.4g}"})


def _realised(real: dict[str, Any] | None) -> str:
    if not real:
        return card(
            "realised",
            "Realised performance",
            "No scored run's horizon has passed by this date: nothing to judge yet.",
        )
    bt = real["backtest"]
    rows = pd.DataFrame(
        {
            "realised": [
                real.get(k) for k in ("churn_auc", "brier", "ltv_gini", "ltv_total_error")
            ],
            "backtest": [bt.get(k) for k in ("churn_auc", "brier", "ltv_gini", "ltv_total_error")],
        },
        index=["churn AUC", "Brier", "LTV Gini", "LTV total error"],
    )
    calib = pd.DataFrame(real["calibration"])
    return card(
        "realised",
        "Realised performance",
        f"The reference's predictions as of {esc(real['as_of'])} against what happened up to "
        f"{esc(real['window_end'])}: {real['customers']:,} customers, churn rate "
        f"{_fmt(real['churn_rate'], '{:.1%}')}; next to the backtest figures the models were "
        "promoted with.",
        table(rows),
        "<h3>Calibration (equal-count bins of the predicted churn probability)</h3>",
        table(calib, index=False, formats={"n": "{:,.0f}"}),
    )


def monitor_html(
    report: dict[str, Any], *, config: Config, history: pd.DataFrame | None = None
) -> str:
    """The monitoring report as one self-contained HTML string; with `history` (the logged
    cycles, `customer_ml.tracking.history.monitoring_history`) also their course over time."""
    d, dec = report["drift"], report["decision"]
    real = report.get("realised") or {}
    figures = {
        "decision": dec["action"],
        "features drifted": f"{d['share_drifted']:.0%}",
        "days since reference": str(report["days_elapsed"]),
        "customers now": f"{report['customers']['current']:,}",
        "new customers": f"{report['customers']['new']:,}",
        "realised churn AUC": _fmt(real.get("churn_auc")),
    }
    reasons = "".join(f"<li>{esc(r)}</li>" for r in dec["reasons"])
    body = [
        card("summary", "Decision", "", kpis(figures), f"<ul class='findings'>{reasons}</ul>"),
        card(
            "drift",
            "Feature drift",
            "Per feature, the reference run's snapshot against the snapshot as of this date, "
            "tested by Evidently (DataDrift preset: its default method and threshold for the "
            "column's type and size). Features that move with the calendar: "
            f"{esc(d['time_features'])}.",
            _drift_table(d["features"]),
        ),
        card(
            "predictions",
            "Prediction drift",
            "The reference's predictions against the champions' predictions on the current "
            "snapshot.",
            _drift_table(d["predictions"]),
        ),
        _realised(report.get("realised")),
    ]
    nav = {
        "summary": "Decision",
        "drift": "Feature drift",
        "predictions": "Prediction drift",
        "realised": "Realised",
    }
    over_time = history_section(
        history if history is not None else pd.DataFrame(),
        max_share_drifted=config.monitoring.max_share_drifted,
    )
    if over_time:
        body.append(over_time)
        nav["history"] = "Over time"
    return page(
        title=f"{config.project_name}: monitoring as of {report['as_of']}",
        subtitle=f"customer-ml monitor · reference as of {report['reference']['as_of']} · "
        f"horizon {report['horizon_days']} days",
        nav=nav,
        body=body,
        footer=f"Reference: {esc(report['reference']['folder'])}; monitor.json holds every "
        "figure above.",
    )
