"""Recommendations benchmark: every candidate and the champion on a time split, and the
whole `customer-ml recommend` process timed from the raw file.

    python bench/recs.py [--config configs/online_retail.yaml] [--as-of 2011-12-09]

The split: fit on rows up to as_of - horizon, judge the next horizon days (recall@10,
NDCG@10 with 95 % bootstrap intervals over customers, coverage) for the tasks "all products"
and "new products". The synthetic set has planted product affinities
(customer_ml.recs.synthetic). Results go to bench/results/recs.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import customer_ml as cm
from customer_ml.config import CleaningConfig
from customer_ml.recs.evaluate import backtest_recommenders
from customer_ml.recs.synthetic import generate_baskets

ROOT = Path(__file__).resolve().parents[1]


def _table(name: str, data: cm.Dataset, as_of: pd.Timestamp, horizon: int) -> pd.DataFrame:
    t0 = time.perf_counter()
    bt = backtest_recommenders(data, as_of=as_of, horizon_days=horizon)
    t = bt.table()
    t.insert(0, "data", name)
    t["champion"] = [bt.champion(task) == m for task, m in zip(t.task, t.method, strict=True)]
    print(f"{name}: backtest at cut {bt.cut.date()} in {time.perf_counter() - t0:.1f} s")
    return t


def _show(t: pd.DataFrame) -> None:
    def ci(row: pd.Series, m: str) -> str:
        return f"{row[m]:.3f} [{row[m + '_lo']:.3f}, {row[m + '_hi']:.3f}]"

    for row in t.to_dict(orient="records"):
        star = " *" if row["champion"] else ""
        print(
            f"  {row['data']:<14} {row['task']:<4} {row['method']:<13} "
            f"recall@10 {ci(pd.Series(row), 'recall@10')}  NDCG@10 {ci(pd.Series(row), 'ndcg@10')}"
            f"  coverage {row['coverage']:.3f}{star}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "configs" / "online_retail.yaml"))
    ap.add_argument("--as-of", default="2011-12-09")
    ap.add_argument("--customers", type=int, default=3000, help="synthetic customers")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "recs.json"))
    args = ap.parse_args()

    tables = []
    cfg = cm.load_config(args.config)
    tables.append(_table("online_retail", cm.load_data(cfg), pd.Timestamp(args.as_of), 90))
    tx, _ = generate_baskets(args.customers, seed=7)
    data = cm.from_frames(tx, cleaning=CleaningConfig(merge_same_day=False))
    tables.append(_table("synthetic", data, tx.ts.max().normalize(), 60))
    table = pd.concat(tables, ignore_index=True)
    _show(table)

    with tempfile.TemporaryDirectory() as tmp:
        cli = str(Path(sys.executable).parent / "customer-ml")
        cmd = [
            cli,
            "recommend",
            "--config",
            args.config,
            "--as-of",
            args.as_of,
            "--out",
            str(Path(tmp) / "recs.parquet"),
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        whole = time.perf_counter() - t0
    print(
        f"customer-ml recommend on {Path(args.config).name}, whole process (load, backtest "
        f"of every method and task, fit, top-10 for every customer, MLflow): {whole:.1f} s"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"table": table.to_dict(orient="records"), "recommend_s": whole}, indent=2)
    )


if __name__ == "__main__":
    main()
