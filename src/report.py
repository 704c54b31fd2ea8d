"""metrics.json and report.html of a scoring run: the customer base at a glance, segments,
churn and LTV backtests against every baseline, the plots logged with the models, the
playbook counts and the migration since the previous run. One self-contained HTML file
(plots inlined as PNG), readable offline."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.artifacts
import pandas as pd
from matplotlib import pyplot as plt
from mlflow.exceptions import MlflowException

from customer_ml.config import Config
from customer_ml.scoring.migration import migration_figure
from customer_ml.scoring.models import Models
from customer_ml.tracking.store import open_store

if TYPE_CHECKING:
    from customer_ml.batch import JobResult

__all__ = ["build_metrics", "build_report"]

PLOTS = {
    "segments": ("segment_sizes.png", "segment_profiles.png"),
    "churn": ("gains.png", "calibration.png", "shap_summary.png"),
    "ltv": ("gains.png", "deciles.png", "shap_summary.png"),
}


def _artifact(run_id: str, path: str) -> Any:
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except (MlflowException, OSError):
        return None


def build_metrics(
    config: Config,
    models: Models,
    scores: pd.DataFrame,
    *,
    as_of: dt.date,
    promotions: dict[str, str],
) -> dict[str, Any]:
    """The models used (version, gate verdict, full backtest of every candidate with CIs and
    customers per origin) and summary figures of the scores."""
    client = open_store(config.paths.mlruns)
    out: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "horizon_days": config.horizon_days,
        "project": config.project_name,
        "customers": len(scores),
        "models": {},
    }
    for task in ("churn", "ltv", "segments"):
        run_id = models.runs.get(task, "")
        entry: dict[str, Any] = {
            "version": models.versions.get(task),
            "run_id": run_id,
            "gate": promotions.get(task, ""),
        }
        if run_id:
            run = client.get_run(run_id)
            entry["params"] = dict(run.data.params)
            if task == "segments":
                entry["quality"] = dict(run.data.metrics)
            else:
                entry["backtest"] = _artifact(run_id, "backtest.json")
        out["models"][task] = entry
    ltv = scores["predicted_ltv"]
    out["scores"] = {
        "churn_probability_mean": float(scores["churn_probability"].mean()),
        "expected_purchases_total": float(scores["expected_purchases"].sum()),
        "predicted_ltv_total": float(ltv.sum()) if ltv.notna().any() else None,
        "value_at_risk_total": float(scores["value_at_risk"].sum()),
        **{
            f"by_{c}": scores[c].value_counts().to_dict()
            for c in ("segment_name", "value_tier", "lifecycle_stage", "recommended_action")
        },
    }
    return out


# ---- HTML ----------------------------------------------------------------------------------

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right;font-size:13px}th{background:#f3f3f3}td:first-child{text-align:left}
img{max-width:100%;margin:.5em 0;border:1px solid #eee}.kpi{display:inline-block;margin:0 2em
1em 0}.kpi b{display:block;font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-top:.5em}"""


def _png(path_or_fig: Any, alt: str) -> str:
    if isinstance(path_or_fig, Path):
        data = path_or_fig.read_bytes()
    else:
        buf = io.BytesIO()
        path_or_fig.savefig(buf, format="png", dpi=90)
        plt.close(path_or_fig)
        data = buf.getvalue()
    b64 = base64.b64encode(data).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _plots(run_id: str, names: tuple[str, ...], label: str) -> str:
    if not run_id:
        return ""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="plots", dst_path=tmp
            )
        except (MlflowException, OSError):
            return "<p>(no plots logged with this model)</p>"
        return "".join(
            _png(Path(folder) / n, f"{label} {n[:-4]}")
            for n in names
            if (Path(folder) / n).is_file()
        )


def _table(df: pd.DataFrame, *, index: bool = True, floatfmt: str = "{:,.3f}") -> str:
    return df.to_html(
        index=index,
        border=0,
        float_format=lambda v: floatfmt.format(v),
        na_rep="",
        escape=True,
    )


def _backtest(entry: dict[str, Any]) -> str:
    bt = entry.get("backtest") or {}
    rows = bt.get("summary") or []
    if not rows:
        return "<p>(no backtest recorded)</p>"
    s = pd.DataFrame(rows)
    s["value"] = [
        f"{r.estimate:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]"
        if pd.notna(r.ci_low)
        else f"{r.estimate:.3f}"
        for r in s.itertuples()
    ]
    table = s.pivot(index="candidate", columns="metric", values="value")
    order = [c for c in bt.get("ranking", []) if c in table.index]
    table = table.loc[order + [c for c in table.index if c not in order]]
    per = pd.DataFrame(bt.get("per_origin") or [])
    sizes = ""
    if len(per) and "n" in per:
        n = per.groupby("origin")["n"].first()
        sizes = ", ".join(f"{o}: {int(v):,}" for o, v in n.items())
    return (
        f"<p>primary metric <b>{html.escape(str(bt.get('primary_metric')))}</b>, best first "
        f"(95 % bootstrap CIs); customers per backtest origin {html.escape(sizes)}</p>"
        + _table(table)
    )


def _glance(scores: pd.DataFrame) -> str:
    g = scores.groupby("segment_name")
    table = pd.DataFrame(
        {
            "customers": g.size(),
            "share": g.size() / len(scores),
            "mean churn probability": g["churn_probability"].mean(),
            "expected purchases": g["expected_purchases"].sum(),
            "predicted LTV": g["predicted_ltv"].sum(min_count=1),
            "value at risk": g["value_at_risk"].sum(),
        }
    ).sort_values("customers", ascending=False)
    return _table(table, floatfmt="{:,.2f}")


def build_report(result: JobResult, *, config: Config) -> str:
    """The run report as one HTML string."""
    s, m, models = result.scores, result.metrics, result.models
    ltv = s["predicted_ltv"].sum(min_count=1)
    kpis = {
        "customers": f"{len(s):,}",
        "segments": str(s["segment"].nunique()),
        "mean churn probability": f"{s['churn_probability'].mean():.1%}",
        f"predicted revenue, next {config.horizon_days} days": f"{ltv:,.0f}"
        if pd.notna(ltv)
        else "n/a (no amounts)",
        "expected purchases": f"{s['expected_purchases'].sum():,.0f}",
        "value at risk": f"{s['value_at_risk'].sum():,.0f}",
    }
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>customer-ml report: "
        f"{html.escape(config.project_name)} as of {result.as_of}</title><style>{CSS}</style>"
        f"</head><body><h1>{html.escape(config.project_name)}: customers as of {result.as_of}"
        "</h1>",
        "".join(f"<div class='kpi'><b>{html.escape(v)}</b>{k}</div>" for k, v in kpis.items()),
        "<p>models: "
        + ", ".join(
            f"{t} v{models.versions.get(t, '?')} ({html.escape(m['models'][t].get('gate', ''))})"
            for t in ("churn", "ltv", "segments")
        )
        + "</p>",
        "<h2>Segments</h2>",
        _glance(s),
        _plots(models.runs.get("segments", ""), PLOTS["segments"], "segments"),
        "<h2>Tags and actions</h2>",
    ]
    for col in ("lifecycle_stage", "value_tier", "rfm_segment"):
        counts = pd.crosstab(s[col], s["segment_name"], margins=True, margins_name="all")
        parts += [
            f"<h3>{col.replace('_', ' ')} by segment</h3>",
            _table(counts, floatfmt="{:,.0f}"),
        ]
    actions = s.groupby(["recommended_action", "action_channel"]).agg(
        customers=("customer_id", "size"), value_at_risk=("value_at_risk", "sum")
    )
    parts += [f"<h3>playbook '{html.escape(config.default_playbook)}'</h3>", _table(actions)]
    for task, title in (("churn", "Churn"), ("ltv", "Lifetime value")):
        parts += [
            f"<h2>{title}: backtest of every candidate</h2>",
            _backtest(m["models"][task]),
            _plots(models.runs.get(task, ""), PLOTS[task], task),
        ]
    parts.append("<h2>Migration since the previous run</h2>")
    if not result.migration:
        parts.append("<p>No previous scores in this folder: the next run will show moves.</p>")
    for name, table in result.migration.items():
        if name.endswith("_customers"):
            label = name.removesuffix("_customers").replace("_", " ")
            parts += [f"<h3>{label}: customers</h3>", _table(table, floatfmt="{:,.0f}")]
            parts.append(_png(migration_figure(table, title=f"{label} (customers)"), label))
    parts.append("</body></html>")
    return "\n".join(parts)
