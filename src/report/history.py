"""Performance over time: the monitoring figures of every cycle (read from MLflow by
`customer_ml.tracking.history.monitoring_history`) against their as_of date."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from customer_ml.report.blocks import card, png, table

__all__ = ["history_figure", "history_section"]

PANELS = (
    ("realised_churn_auc", "realised churn AUC", "backtest_churn_auc", "backtest AUC"),
    ("share_drifted", "share of features drifted", None, None),
)


def history_figure(history: pd.DataFrame, *, max_share_drifted: float | None = None) -> Figure:
    """Realised churn AUC (with the backtest AUC it was promoted with) and the share of
    features drifted, one point per cycle at its as_of; cycles that decided `retrain` are
    ringed. The realised AUC at a date is that of the scores made one horizon (or more)
    earlier, judged on what happened since; cycles without one leave a gap.

    Each line carries its metric name as `gid` (e.g. "realised_churn_auc")."""
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 5.0), sharex=True)
    x = pd.to_datetime(history["as_of"])
    retrain = history["decision"].eq("retrain").to_numpy()
    for ax, (col, label, ref, ref_label) in zip(axes, PANELS, strict=True):
        y = pd.to_numeric(history[col], errors="coerce")
        ax.plot(x, y, marker="o", color="#1f5f8b", label=label, gid=col)
        ax.scatter(x[retrain], y[retrain], s=140, facecolors="none", edgecolors="#c0392b",
                   label="decided retrain")  # fmt: skip
        if ref is not None:
            b = pd.to_numeric(history[ref], errors="coerce")
            ax.plot(x, b, ls="--", marker=".", color="#7f8c8d", label=ref_label, gid=ref)
        if col == "share_drifted" and max_share_drifted is not None:
            ax.axhline(max_share_drifted, color="#c0392b", lw=0.8, ls=":", label="retrain above")
            ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[-1].xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(axes[-1].xaxis.get_major_locator())
    )
    axes[-1].set_xlabel("as of")
    fig.suptitle("Monitoring over time (one point per cycle)")
    fig.tight_layout()
    return fig


def history_section(history: pd.DataFrame, *, max_share_drifted: float | None = None) -> str:
    """The "Over time" card (figure and table of every cycle); empty without cycles."""
    if history.empty:
        return ""
    fig = history_figure(history, max_share_drifted=max_share_drifted)
    img = png(fig, "monitoring over time", caption="realised churn AUC and drift per cycle")
    plt.close(fig)
    cols = ["as_of", "decision", "share_drifted", "realised_churn_auc", "realised_brier",
            "realised_ltv_gini", "realised_as_of"]  # fmt: skip
    shown = history[cols].assign(as_of=pd.to_datetime(history["as_of"]).dt.date)
    return card(
        "history",
        "Over time",
        f"Every monitoring cycle logged to MLflow ({len(history)}): the share of features "
        "drifted since the run before, and the realised churn AUC of the scores whose "
        "horizon had passed by then (as of realised_as_of), next to their backtest AUC.",
        img,
        table(shown, index=False, formats={"share_drifted": "{:.0%}"}),
    )
