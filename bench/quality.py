"""Model quality benchmark (not part of the tests): the trained champion against every
challenger on the project's own backtest, on each public dataset and the synthetic data.

    python bench/quality.py                        # all four; writes docs/quality.md
    python bench/quality.py --only cdnow --out /tmp/q.md

For each dataset (its config in configs/, as of the config's date) and task, `train_task`
backtests every candidate on the rolling origins (Telco: a contractual churn table,
cross-validated folds), nothing registered or logged. Printed and written: the candidate the
platform chooses, the best challenger (the baselines: logistic regression on log-RFM, recency
and frequency alone, BG/NBD and Pareto/NBD, with Gamma-Gamma for value, and the historical
rate), each with churn ROC-AUC and Brier or LTV normalized Gini and Spearman with 95 %
bootstrap intervals, and the paired difference on the primary metric (customers resampled
within each origin, the same draw for both models) with its interval. Then every candidate.
Results also go to bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATASETS = {
    "cdnow": "cdnow.yaml",
    "online_retail": "online_retail.yaml",
    "telco": "telco.yaml",
    "synthetic": "default.yaml",
}
SHOWN = {"churn": ("roc_auc", "brier"), "ltv": ("normalized_gini", "spearman")}
N_PAIRED = 200


def _cell(summary: pd.DataFrame, candidate: str, metric: str) -> str:
    row = summary[(summary.candidate == candidate) & (summary.metric == metric)]
    if row.empty:
        return ""
    e, lo, hi = (float(row[c].iloc[0]) for c in ("estimate", "ci_low", "ci_high"))
    return f"{e:.3f}" if not np.isfinite(lo) else f"{e:.3f} [{lo:.3f}, {hi:.3f}]"


def paired_difference(task: str, a: pd.DataFrame, b: pd.DataFrame, seed: int = 0) -> list[float]:
    """Primary metric of `a` minus `b` (predictions: origin, y, p in the same row order):
    the mean over origins, and a 95 % interval from customers resampled within each origin,
    the same draw for both."""
    from customer_ml.models.metrics import churn_metrics, ltv_metrics

    metric = "roc_auc" if task == "churn" else "normalized_gini"

    def value(y: np.ndarray, p: np.ndarray) -> float:
        m = churn_metrics(y, p) if task == "churn" else ltv_metrics(y, p)
        return float(m[metric])

    rng = np.random.default_rng(seed)
    point, draws = [], []
    for origin in a["origin"].unique():
        g = np.flatnonzero(a["origin"].to_numpy() == origin)
        y = a["y"].to_numpy(float)[g]
        pa, pb = a["p"].to_numpy(float)[g], b["p"].to_numpy(float)[g]
        point.append(value(y, pa) - value(y, pb))
        idx = rng.integers(0, len(g), (N_PAIRED, len(g)))
        draws.append([value(y[i], pa[i]) - value(y[i], pb[i]) for i in idx])
    d = np.mean(draws, axis=0)
    return [float(np.mean(point)), *map(float, np.quantile(d, [0.025, 0.975]))]


def evaluate(name: str, config_file: str, work: Path) -> list[dict[str, Any]]:
    import customer_ml as cm
    from customer_ml.train.jobs import train_task

    cfg = cm.load_config(REPO / "configs" / config_file)
    paths = {"out": work / name / "out", "mlruns": work / name / "mlruns"}
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update=paths)})
    t = time.perf_counter()
    data = cm.load_data(cfg)
    tasks = ("churn", "ltv") if data.has_transactions else ("churn",)
    rows = []
    for task in tasks:
        res = train_task(data, cfg, task=task, register=False, log=False)
        bt = res.backtest
        learned = bt.learned
        challengers = [c for c in bt.ranking() if not learned.get(c, False) and c != "champion"]
        best = challengers[0]
        models = [c for c in bt.ranking() if learned.get(c, False) and c in bt.predictions]
        diff = paired_difference(task, bt.predictions[res.chosen], bt.predictions[best])
        top = models[0] if models else None
        gap = paired_difference(task, bt.predictions[top], bt.predictions[best]) if top else None
        rows.append(
            {
                "data": name,
                "task": task,
                "as_of": str(res.as_of),
                "origins": [str(o) for o in bt.origins],
                "customers": len(bt.predictions[best]),
                "champion": res.chosen,
                "best_challenger": best,
                "primary": bt.primary,
                "difference": diff,
                "best_learned": top,
                "learned_difference": gap,
                "cells": {
                    c: {m: _cell(bt.summary, c, m) for m in SHOWN[task]} for c in bt.ranking()
                },
                "learned": {c: bool(learned.get(c, False)) for c in bt.ranking()},
                "seconds": round(time.perf_counter() - t, 1),
            }
        )
        print(
            f"{name} {task}: champion {res.chosen} {bt.score(res.chosen):.4f}, best challenger "
            f"{best} {bt.score(best):.4f}, paired difference {diff[0]:+.4f} "
            f"[{diff[1]:+.4f}, {diff[2]:+.4f}]; best learned {top} "
            f"{gap[0] if gap else float('nan'):+.4f} ({time.perf_counter() - t:.0f} s)",
            flush=True,
        )
    return rows


def markdown(rows: list[dict[str, Any]], *, command: str) -> str:
    lines = [
        "# Model quality against simple peers",
        "",
        f"`{command}` on {dt.date.today()}, 2 cores. Each dataset's config in `configs/`, as of",
        "its date; every candidate backtested on the project's own rolling origins (fitted on",
        "data before each origin, judged on the horizon after it; Telco: cross-validated folds",
        "of a contractual churn table). Challengers are the baselines (logistic regression on",
        "log-RFM, recency alone, frequency alone, BG/NBD and Pareto/NBD, with Gamma-Gamma for",
        "value, the historical rate); the champion is what the platform chooses. 95 % bootstrap",
        "intervals in brackets; differences are paired (the same customers drawn for both) on",
        "the primary metric (ROC-AUC, normalized Gini): the champion's and the best learned",
        "(LightGBM) model's, each minus the best challenger's.",
        "",
        "| data | task | metric | champion | best challenger | best learned | champion - "
        "challenger | learned - challenger |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def fmt(d: list[float] | None) -> str:
        return f"{d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]" if d else ""

    for r in rows:
        top = r["best_learned"]
        for i, m in enumerate(SHOWN[r["task"]]):
            champ, best = r["cells"][r["champion"]][m], r["cells"][r["best_challenger"]][m]
            mine = r["cells"][top][m] if top else ""
            diffs = (fmt(r["difference"]), fmt(r["learned_difference"])) if i == 0 else ("", "")
            lines.append(
                f"| {r['data']} | {r['task']} | {m} | {r['champion']} {champ} | "
                f"{r['best_challenger']} {best} | {top or ''} {mine} | {diffs[0]} | {diffs[1]} |"
            )
    lines += ["", "## Every candidate", ""]
    for r in rows:
        shown = SHOWN[r["task"]]
        lines += [
            f"**{r['data']}, {r['task']}** (as of {r['as_of']}; origins "
            f"{', '.join(r['origins'])}; {r['customers']:,} customer rows judged; "
            f"{r['seconds']:.0f} s)",
            "",
            "| candidate | kind | " + " | ".join(shown) + " |",
            "|---|---|" + "---|" * len(shown),
        ]
        for c, cells in r["cells"].items():
            kind = "learned" if r["learned"][c] else "challenger"
            mark = " (champion)" if c == r["champion"] else ""
            lines.append(f"| {c}{mark} | {kind} | " + " | ".join(cells[m] for m in shown) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated datasets: " + ",".join(DATASETS))
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "quality.md")
    ap.add_argument("--work", type=Path, default=REPO / "out" / "bench-quality")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    names = args.only.split(",") if args.only else list(DATASETS)
    rows = []
    for name in names:
        if name != "synthetic" and not (REPO.parent / "shared" / "data").is_dir():
            print(f"{name}: ../shared/data not found, skipped")
            continue
        rows += evaluate(name, DATASETS[name], args.work)
    command = f"python bench/quality.py --only {args.only}" if args.only else "make bench-quality"
    args.out.write_text(markdown(rows, command=command) + "\n")
    results = REPO / "bench" / "results" / "quality.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
