"""The sections of the run report: data, segments, tags and actions, the two backtests and the
migration; and the key findings in sentences."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from customer_ml.config import Config
from customer_ml.report.blocks import card, esc, grid, png, run_plots, table
from customer_ml.scoring.migration import migration_figure

if TYPE_CHECKING:
    from customer_ml.scoring.results import JobResult

__all__ = ["backtest_section", "data_section", "findings", "migration_section"]
__all__ += ["moved_share", "segments_section", "tags_section"]

PLOTS = {
    "segments": {
        "segment_sizes.png": "share of customers per segment (at training time)",
        "segment_profiles.png": "segment medians against the population, in standard deviations",
    },
    "churn": {
        "gains.png": "share of churners found among the customers ranked highest",
        "calibration.png": "predicted probability against the observed churn rate, by decile",
        "shap_summary.png": "SHAP summary of the chosen model (when it is LightGBM)",
    },
    "ltv": {
        "gains.png": "share of future revenue found among the customers ranked highest",
        "deciles.png": "predicted against actual value per customer, by decile of the prediction",
        "shap_summary.png": "SHAP summary of the chosen model (when it is LightGBM)",
    },
}
PROFILE = {  # key feature -> label in the segment profile table (medians)
    "recency_days": "recency (days)",
    "n_purchases": "purchases",
    "monetary_mean": "order value",
    "T": "tenure (days)",
    "ipt_mean_days": "usual gap (days)",
}
BTYD = ("bgnbd", "pnbd")


# ---- findings ------------------------------------------------------------------------------


def _value(s: pd.DataFrame) -> tuple[pd.Series, str]:
    if s["predicted_ltv"].notna().any():
        return s["predicted_ltv"].fillna(0.0), "predicted revenue"
    return s["expected_purchases"].fillna(0.0), "expected purchases"


def moved_share(table: pd.DataFrame) -> float | None:
    """Share of the customers present in both runs whose label changed."""
    both = table.drop(index="(new)", errors="ignore").drop(columns="(gone)", errors="ignore")
    total = float(both.to_numpy().sum())
    if total <= 0:
        return None
    stayed = sum(float(both.at[k, k]) for k in both.index if k in both.columns)
    return 1.0 - stayed / total


def _with_ci(estimate: Any, low: Any, high: Any) -> str:
    """`0.812 [0.790, 0.833]`, or the estimate alone when there is no interval (n_boot 0)."""
    if pd.isna(estimate):
        return "n/a"
    if pd.isna(low) or pd.isna(high):
        return f"{estimate:.3f}"
    return f"{estimate:.3f} [{low:.3f}, {high:.3f}]"


def _model_line(task: str, entry: dict[str, Any]) -> str:
    bt = entry.get("backtest") or {}
    rows = pd.DataFrame(bt.get("summary") or [])
    chosen = (entry.get("params") or {}).get("chosen")
    if rows.empty or not chosen:
        return f"{task}: no backtest recorded."
    prim = rows[rows["metric"] == bt.get("primary_metric")].set_index("candidate")
    if chosen not in prim.index:
        return f"{task}: chosen {esc(chosen)}."
    r = prim.loc[chosen]
    text = (
        f"{'Churn' if task == 'churn' else 'Lifetime value'}: <b>{esc(chosen)}</b> chosen on "
        f"{esc(bt.get('primary_metric'))}, {_with_ci(r['estimate'], r['ci_low'], r['ci_high'])}"
    )
    btyd = prim[prim.index.str.startswith(BTYD) & (prim.index != chosen)]
    if len(btyd):
        b = btyd["estimate"].idxmax()
        text += f"; the best BTYD baseline, {esc(b)}, scores {btyd.at[b, 'estimate']:.3f}"
    return text + f" ({len(prim)} candidates backtested)."


def findings(result: JobResult, config: Config) -> list[str]:
    s, m = result.scores, result.metrics
    n = len(s)
    stages = s["lifecycle_stage"].value_counts(normalize=True)
    out = [
        f"{n:,} customers as of {result.as_of}: "
        + ", ".join(f"{v:.0%} {esc(k)}" for k, v in stages.items())
        + "."
    ]
    value, label = _value(s)
    if value.sum() > 0:
        by = value.groupby(s["segment_name"]).sum() / value.sum()
        top = str(by.idxmax())
        out.append(
            f"<b>{esc(top)}</b> holds {by[top]:.0%} of the {label} of the next "
            f"{config.horizon_days} days with {(s['segment_name'] == top).mean():.0%} of the "
            "customers."
        )
    var = s.groupby("segment_name")["value_at_risk"].sum()
    if var.sum() > 0:
        t = str(var.idxmax())
        action = s.loc[s["segment_name"] == t, "recommended_action"].mode()
        out.append(
            f"The most value at risk (churn probability × predicted value) sits in "
            f"<b>{esc(t)}</b>: {var[t] / var.sum():.0%} of {var.sum():,.0f}"
            + (f"; its most common action is <b>{esc(action.iat[0])}</b>." if len(action) else ".")
        )
    out += [_model_line(t, m["models"][t]) for t in ("churn", "ltv")]
    for col, what in (("segment_name", "segment"), ("lifecycle_stage", "lifecycle stage")):
        table = result.migration.get(f"{col}_customers")
        share = moved_share(table) if table is not None else None
        if share is not None:
            out.append(f"Since the previous run, {share:.0%} of customers changed {what}.")
    return out


# ---- sections ------------------------------------------------------------------------------


def data_section(profile: dict[str, Any]) -> str:
    tx, amount = profile.get("transactions") or {}, profile.get("amount") or {}
    clean = profile.get("cleaning") or {}
    facts = {
        "transactions (after cleaning)": f"{tx.get('rows', 0):,}",
        "customers": f"{tx.get('customers', 0):,}",
        "first transaction": str(tx.get("first_ts", ""))[:10],
        "last transaction": str(tx.get("last_ts", ""))[:10],
        "purchases (customer-days)": f"{clean.get('purchases', 0):,}",
    }
    facts |= {f"amount, {k}": f"{v:,.2f}" for k, v in amount.items()}
    steps = {"rows read": clean.get("rows_read", 0)}
    steps |= {f"removed: {k}": v for k, v in (clean.get("removed") or {}).items()}
    steps |= {
        "same-day rows merged": clean.get("same_day_rows_merged", 0),
        "returns kept (as negative spend)": clean.get("returns_kept", 0),
        "rows kept": clean.get("rows_kept", 0),
    }
    notes = "".join(f"<li>{esc(x)}</li>" for x in clean.get("notes") or [])
    return card(
        "data",
        "Data",
        "What was loaded and what each cleaning step removed (rows). Raw files are never "
        "changed; every step is set in the config's <code>cleaning:</code> block.",
        grid(
            [
                "<div>" + table(pd.DataFrame({"": facts}), floatfmt="{}") + "</div>",
                "<div>" + table(pd.DataFrame({"rows": steps}), formats={"rows": "{:,}"}) + "</div>",
            ]
        ),
        f"<ul>{notes}</ul>" if notes else "",
    )


def segments_section(result: JobResult) -> str:
    s = result.scores
    value, label = _value(s)
    seg = s["segment_name"]
    g = s.groupby("segment_name")
    t = pd.DataFrame(
        {
            "customers": g.size(),
            "share": g.size() / len(s),
            f"share of {label}": value.groupby(seg).sum() / max(float(value.sum()), 1e-12),
            "mean churn probability": g["churn_probability"].mean(),
            "value at risk": g["value_at_risk"].sum(),
        }
    )
    if result.features is not None:
        f = result.features.assign(customer_id=result.features["customer_id"].astype(str))
        f = f.set_index("customer_id").reindex(s["customer_id"].astype(str).to_numpy())
        f.index = seg.to_numpy()
        for col, name in PROFILE.items():
            if col in f:
                t[f"median {name}"] = f[col].groupby(level=0).median()
    t = t.sort_values(f"share of {label}", ascending=False)
    pct = {c: "{:.1%}" for c in ("share", f"share of {label}", "mean churn probability")}
    seg_run = result.models.runs.get("segments", "")
    return card(
        "segments",
        "Segments",
        "Learned clusters of behaviour, named from how their medians differ from the "
        "population's. Sorted by their share of the value expected in the horizon.",
        table(t, formats=pct | {"customers": "{:,}"}, floatfmt="{:,.1f}"),
        grid(run_plots(seg_run, PLOTS["segments"], "segments")),
    )


def tags_section(result: JobResult, config: Config) -> str:
    s = result.scores
    crosstabs = [
        f"<div><h3>{col.replace('_', ' ')} by segment</h3>"
        + table(pd.crosstab(s["segment_name"], s[col], margins=True, margins_name="all"))
        + "</div>"
        for col in ("lifecycle_stage", "value_tier", "rfm_segment")
    ]
    actions = s.groupby(["recommended_action", "action_channel"]).agg(
        customers=("customer_id", "size"), value_at_risk=("value_at_risk", "sum")
    )
    actions["share of value at risk"] = actions["value_at_risk"] / max(
        float(actions["value_at_risk"].sum()), 1e-12
    )
    actions = actions.sort_values("value_at_risk", ascending=False)
    return card(
        "tags",
        "Tags and actions",
        "Lifecycle stage, value tier and RFM segment come from rules in the config "
        "(<code>tags:</code>); the action is the first rule of the playbook that matches.",
        grid(crosstabs),
        f"<h3>playbook '{esc(config.default_playbook)}'</h3>",
        table(
            actions,
            formats={
                "customers": "{:,}",
                "value_at_risk": "{:,.0f}",
                "share of value at risk": "{:.1%}",
            },
        ),
    )


def _kind(name: str) -> str:
    if name.startswith(BTYD) or name == "historical_rate":
        return "BTYD / statistical baseline"
    if name.startswith("lgbm"):
        return "LightGBM (Optuna-tuned)"
    return "simple baseline"


def backtest_section(task: str, entry: dict[str, Any], run_id: str) -> str:
    title = "Churn" if task == "churn" else "Lifetime value"
    bt = entry.get("backtest") or {}
    rows = pd.DataFrame(bt.get("summary") or [])
    if rows.empty:
        return card(task, title, "No backtest was recorded for this model.")
    rows["value"] = [_with_ci(r.estimate, r.ci_low, r.ci_high) for r in rows.itertuples()]
    t = rows.pivot(index="candidate", columns="metric", values="value")
    order = [c for c in bt.get("ranking", []) if c in t.index]
    primary = str(bt.get("primary_metric"))
    shown = [c for c in t.columns if c not in ("n", "positive_rate", primary)]
    t = t.loc[order + [c for c in t.index if c not in order], [primary, *shown]]
    t.insert(0, "kind", [_kind(c) for c in t.index])
    per = pd.DataFrame(bt.get("per_origin") or [])
    sizes = ""
    if len(per) and "n" in per:
        n = per.groupby("origin")["n"].first()
        sizes = ", ".join(f"{o} ({int(v):,} customers)" for o, v in n.items())
    what = (
        f"P(no purchase in the next {bt.get('horizon_days', '')} days)"
        if task == "churn"
        else f"revenue in the next {bt.get('horizon_days', '')} days"
    )
    lead = (
        f"{what}. Every candidate is trained on earlier cutoffs and judged on the window after "
        f"each backtest origin: {esc(sizes)}. Best first on "
        f"<b>{esc(bt.get('primary_metric'))}</b>; 95 % bootstrap intervals in brackets; the "
        f"highlighted row is the model in use. {_model_line(task, entry)}"
    )
    chosen = (entry.get("params") or {}).get("chosen")
    return card(
        task,
        f"{title}: backtest of every candidate",
        lead,
        table(t, chosen=chosen),
        grid(run_plots(run_id, PLOTS[task], task)),
    )


def migration_section(result: JobResult) -> str:
    if not result.migration:
        return card(
            "migration",
            "Migration since the previous run",
            "No earlier scores in this folder: the next run into it will show how customers "
            "moved between segments, value tiers and lifecycle stages.",
        )
    figs = []
    for name, t in result.migration.items():
        if name.endswith("_customers"):
            label = name.removesuffix("_customers").replace("_", " ")
            figs.append(png(migration_figure(t, title=f"{label}: customers"), label))
    return card(
        "migration",
        "Migration since the previous run",
        "Rows: the label in the previous scores; columns: now. <i>(new)</i> are customers "
        "first seen since then. Value-weighted matrices are in migration_*_value.csv.",
        grid(figs),
    )
