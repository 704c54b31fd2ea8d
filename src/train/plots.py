"""Backtest plots: gains, calibration, LTV deciles; SHAP summary; segment sizes and profiles.

No backend is chosen here: matplotlib falls back to Agg without a display, and a notebook
keeps its inline backend."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from customer_ml.models.metrics import calibration_bins, decile_table
from customer_ml.models.segments import KEY_FEATURES
from customer_ml.train.backtest import Backtest

__all__ = ["backtest_figures", "segment_figures", "shap_summary", "tuning_history"]


def _figure(size: tuple[float, float]) -> tuple[Figure, Any]:
    """A figure outside pyplot's registry: nothing to close, and a notebook shows it once
    (when it is returned), not again as an open pyplot figure."""
    fig = Figure(figsize=size)
    return fig, fig.subplots()


def _gains(bt: Backtest) -> Figure:
    """Share of churners (or of future revenue) found in the top x % by score, last origin."""
    fig, ax = _figure((6, 4.5))
    last = bt.origins[-1]
    for name in bt.ranking():
        d = bt.predictions[name]
        d = d[d["origin"] == last]
        y = d["y"].to_numpy(float)[np.argsort(-d["p"].to_numpy(float), kind="stable")]
        ax.plot(
            np.linspace(0, 1, len(y) + 1),
            np.r_[0, np.cumsum(y)] / max(y.sum(), 1e-12),
            label=f"{name} ({bt.score(name):.3f})",
        )
    ax.plot([0, 1], [0, 1], color="grey", ls=":", label="random")
    what = "churners" if bt.task == "churn" else "future revenue"
    ax.set(
        xlabel="customers, highest score first (share)",
        ylabel=f"share of {what} found",
        title=f"{bt.task}: gains at origin {last} ({bt.primary})",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _calibration(bt: Backtest) -> Figure:
    fig, ax = _figure((5, 5))
    for name in bt.ranking():
        d = bt.predictions[name]
        c = calibration_bins(d["y"].to_numpy(), d["p"].to_numpy())
        ax.plot(c["predicted"], c["observed"], marker="o", ms=3, label=name)
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    ax.set(
        xlabel="predicted churn probability (decile mean)",
        ylabel="observed churn rate",
        title="churn calibration, all origins",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _deciles(bt: Backtest) -> Figure:
    best = bt.best()
    d = bt.predictions[best]
    t = decile_table(d["y"].to_numpy(), d["p"].to_numpy())
    fig, ax = _figure((6, 4.5))
    x = t["decile"].to_numpy()
    ax.bar(x - 0.2, t["predicted"], width=0.4, label="predicted")
    ax.bar(x + 0.2, t["actual"], width=0.4, label="actual")
    ax.set(
        xlabel="decile of the prediction (1 = highest)",
        ylabel="mean value per customer",
        title=f"LTV deciles: {best}, all origins",
        xticks=x,
    )
    ax.legend()
    fig.tight_layout()
    return fig


def backtest_figures(bt: Backtest) -> dict[str, Figure]:
    """{"gains.png", "calibration.png" (churn) or "deciles.png" (ltv)}; close them after use."""
    figs = {"gains.png": _gains(bt)}
    if bt.task == "churn":
        figs["calibration.png"] = _calibration(bt)
    else:
        figs["deciles.png"] = _deciles(bt)
    return figs


def shap_summary(scorer: Any, frame: pd.DataFrame, *, n: int = 2000, seed: int = 0) -> Figure:
    """SHAP summary (beeswarm) of a tree scorer's exact TreeSHAP contributions, sampled."""
    import shap

    X = frame.sample(min(n, len(frame)), random_state=seed)
    contrib = scorer.contributions(X)
    shap.summary_plot(
        contrib[scorer.features_in_].to_numpy(),
        X[scorer.features_in_],
        show=False,
        max_display=15,
    )
    fig = plt.gcf()
    plt.close(fig)  # shap draws on pyplot: hand the figure over, unregistered
    fig.set_size_inches(8, 6)
    fig.tight_layout()
    return fig


def tuning_history(study: Any) -> Figure:
    """Optuna's optimisation history (validation score per trial, best so far)."""
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.visualization.matplotlib import plot_optimization_history

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        ax = plot_optimization_history(study)
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    plt.close(fig)
    fig.set_size_inches(7, 4.5)
    fig.tight_layout()
    return fig


def segment_figures(snapshot: pd.DataFrame, seg: Any) -> dict[str, Figure]:
    """Segment sizes and a profile heatmap (segment medians as z-scores of the population)."""
    names = [f"{k}: {seg.names[k]}" for k in seg.profile.index]
    fig1, ax = _figure((7, 0.5 + 0.45 * len(names)))
    ax.barh(names, seg.profile["share"])
    ax.invert_yaxis()
    ax.set(xlabel="share of customers", title="segment sizes")
    fig1.tight_layout()
    # the key behaviour columns, then those the clustering used (shares), each once
    cols = list(dict.fromkeys(c for c in (*KEY_FEATURES, *seg.columns) if c in snapshot))
    X = snapshot.reset_index(drop=True)[cols].astype(float)
    med = X.groupby(seg.labels).median()
    z = (med - X.median()) / X.std().replace(0, 1)
    fig2, ax2 = _figure((max(7.0, 3.0 + 0.55 * len(cols)), 1.6 + 0.5 * len(z)))
    im = ax2.imshow(z.to_numpy(float), cmap="RdBu_r", vmin=-1.5, vmax=1.5, aspect="auto")
    for (i, j), v in np.ndenumerate(med.to_numpy(float)):  # the medians themselves
        text = f"{v:.2f}" if abs(v) < 1 else f"{v:,.0f}"
        dark = abs(float(z.iat[i, j])) > 1.0
        ax2.text(j, i, text, ha="center", va="center", fontsize=6.5, color="w" if dark else "k")
    ax2.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
    ax2.set_yticks(range(len(z)), names, fontsize=8)
    ax2.set_title("segment medians (colour: against the population, in SDs)", fontsize=9)
    fig2.colorbar(im, ax=ax2, shrink=0.8)
    fig2.tight_layout()
    return {"segment_sizes.png": fig1, "segment_profiles.png": fig2}
