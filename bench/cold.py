"""Cold-path benchmark: raw Parquet to features as a whole process, against pandas.

    python bench/cold.py --rows 10M

A user's first run: a new process reads a raw Parquet file (string customer ids, about 10
rows per customer) and writes the behaviour vector and tags as of a date. Timed as whole
processes, each started fresh (imports, read, id encoding, features, write), the median of
`--repeat` runs, one after the other:

1. `customer-ml features --config C --as-of D --out F` (the default engine);
2. the pandas reference, in one process: the same read, the filter ts <= as_of, and a
   groupby per customer of count, sum, mean, std, first, last and the spend in the last
   30, 90, 180 and 365 days, written to Parquet. It computes about a sixth of the vector.

Printed and written to bench/results/cold.json: seconds and peak memory of each, and the
ratio pandas / customer-ml (above 1 = customer-ml faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from snapshot import AS_OF, parse_rows, write_synthetic

REPO = Path(__file__).resolve().parents[1]
PANDAS = """
import sys
import pandas as pd
src, as_of, out = sys.argv[1], pd.Timestamp(sys.argv[2]) + pd.Timedelta(days=1), sys.argv[3]
tx = pd.read_parquet(src, columns=["customer_id", "ts", "amount"])
tx = tx[tx["ts"] < as_of].sort_values("ts", kind="stable")
g = tx.groupby("customer_id", observed=True)["amount"]
f = g.agg(["count", "sum", "mean", "std", "first", "last"])
age = (as_of - tx["ts"]).dt.days
for d in (30, 90, 180, 365):
    recent = tx["amount"].where(age <= d, 0.0)
    f[f"spend_{d}d"] = recent.groupby(tx["customer_id"], observed=True).sum()
f.reset_index().to_parquet(out, index=False)
"""


def timed(cmd: list[str]) -> dict[str, float]:
    """Wall seconds and peak resident memory (MB, the process and its children)."""
    t = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()}")
    return {"seconds": round(seconds, 2), "peak_mb": round(peak / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="10M")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "cold.json")
    args = ap.parse_args()
    rows = parse_rows(args.rows)
    result: dict[str, Any] = {"rows": rows, "as_of": AS_OF}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"writing {rows:,} synthetic rows to Parquet", flush=True)
        src = write_synthetic(rows, folder).replace("*.parquet", "tx-000.parquet")
        config = folder / "c.yaml"
        config.write_text(
            "data:\n  transactions:\n    path: tx-000.parquet\n    format: parquet\n"
            "    columns: {customer_id: customer_id, ts: ts, amount: amount, quantity: quantity,"
            " order_id: order_id, product_id: product_id, category: category,"
            " channel: channel}\n"
            "cleaning: {merge_same_day: false, drop_duplicates: false}\n"
            f"paths: {{out: {folder / 'out'}, mlruns: {folder / 'mlruns'}}}\n"
        )
        exe = str(Path(sys.executable).with_name("customer-ml"))
        ours = [exe, "features", "-c", str(config), "--as-of", AS_OF]
        ours += ["--out", str(folder / "f.parquet")]
        theirs = [sys.executable, "-c", PANDAS, src, AS_OF, str(folder / "p.parquet")]
        runs: dict[str, list[dict[str, float]]] = {"customer-ml": [], "pandas": []}
        for k in range(args.repeat):
            for name, cmd in (("customer-ml", ours), ("pandas", theirs)):
                runs[name].append(timed(cmd))
                print(f"  run {k + 1} {name:<12} {runs[name][-1]['seconds']:7.2f} s", flush=True)
    for name, r in runs.items():
        result[name] = {
            "seconds": statistics.median(x["seconds"] for x in r),
            "peak_mb": max(x["peak_mb"] for x in r),
            "runs": r,
        }
    ratio = result["pandas"]["seconds"] / result["customer-ml"]["seconds"]
    result["ratio"] = round(ratio, 2)
    print(
        f"cold path, {rows:,} rows: customer-ml features {result['customer-ml']['seconds']:.1f} s"
        f" (peak {result['customer-ml']['peak_mb']:,} MB), pandas "
        f"{result['pandas']['seconds']:.1f} s (peak {result['pandas']['peak_mb']:,} MB): "
        f"{ratio:.2f}x (goal 2x)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
