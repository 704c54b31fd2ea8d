"""Rich-data benchmark: what mapping baskets, products, categories, quantities, channels and a
customer attributes table costs a run, and what it buys.

    python bench/rich.py                      # 5,000 synthetic customers
    python bench/rich.py --customers 20000

The same synthetic customers (the built-in generator, with its attributes table) written to
Parquet, then two whole `customer-ml run` processes, each cold (a new process, empty MLflow
store and output folder), one after the other, with the project's default training settings:

1. lean: transactions mapped as (customer_id, ts, amount) only;
2. rich: every transaction column (order_id, product_id, category, quantity, channel) and the
   customers table (signup date, region, age, gender).

Printed and written to bench/results/rich.json: seconds and peak memory of each, the ratio
rich / lean (goal at most 2x), the champions and their backtest metrics, and the feature
groups the ablation kept.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold import timed

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2024-12-30"


def write_data(n: int, folder: Path) -> list[str]:
    from customer_ml.data.synthetic import generate

    syn = generate(n, seed=7, with_events=False)
    syn.transactions.to_parquet(folder / "tx.parquet", index=False)
    syn.customers.to_parquet(folder / "customers.parquet", index=False)
    return list(syn.transactions.columns)


def config(folder: Path, name: str, columns: list[str], rich: bool) -> Path:
    mapped = columns if rich else ["customer_id", "ts", "amount"]
    data: dict[str, Any] = {
        "transactions": {"path": str(folder / "tx.parquet"), "columns": {c: c for c in mapped}}
    }
    if rich:
        data["customers"] = {
            "path": str(folder / "customers.parquet"),
            "columns": {"customer_id": "customer_id", "signup_ts": "signup_ts"},
        }
    raw = {
        "project": f"rich-bench-{name}",
        "data": data,
        "as_of": AS_OF,
        "horizon_days": 90,
        "paths": {"out": str(folder / name / "out"), "mlruns": str(folder / name / "mlruns")},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def outcome(folder: Path) -> dict[str, Any]:
    """Per task: the chosen model, its backtest metric and the groups the ablation dropped,
    from the run's MLflow store."""
    con = sqlite3.connect(next((folder / "mlruns").glob("*.db")))
    runs: dict[str, dict[str, Any]] = {}
    for run, key, value in con.execute(
        "SELECT run_uuid, key, value FROM params WHERE key IN ('task', 'chosen', "
        "'ablation.dropped')"
    ).fetchall():
        runs.setdefault(run, {})[key] = value
    for run, key, value in con.execute(
        "SELECT run_uuid, key, value FROM latest_metrics WHERE key IN ('roc_auc', 'brier', "
        "'normalized_gini', 'spearman')"
    ).fetchall():
        runs.setdefault(run, {})[key] = round(float(value), 4)
    return {r.pop("task"): r for r in runs.values() if r.get("task") in ("churn", "ltv")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "rich.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"customers": args.customers, "as_of": AS_OF}
    exe = str(Path(sys.executable).with_name("customer-ml"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        columns = write_data(args.customers, folder)
        for name, rich in (("lean", False), ("rich", True)):
            cfg = config(folder, name, columns, rich)
            print(f"customer-ml run ({name})", flush=True)
            result[name] = timed([exe, "run", "-c", str(cfg)])
            result[name]["tasks"] = outcome(folder / name)
            print(f"  {result[name]['seconds']:.1f} s, peak {result[name]['peak_mb']:,} MB")
            for task, got in result[name]["tasks"].items():
                print(f"  {task}: {got}")
    ratio = result["rich"]["seconds"] / result["lean"]["seconds"]
    result["ratio"] = round(ratio, 2)
    print(f"rich / lean run time: {ratio:.2f}x (goal at most 2x)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
