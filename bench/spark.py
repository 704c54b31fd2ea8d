"""Benchmark: the default engine vs Spark local[*] on synthetic transactions (not a test).

    python bench/spark.py --rows 10M          # make bench-spark

For the size: synthetic transactions (about 10 per customer) in one Parquet file; models
trained once, with the default tuning, on a small synthetic project of the same shape (20k
customers, registered in a temporary MLflow store). Then timed, each engine reading the same
file:

- features: load + snapshot + tags as of the last day, written to Parquet (`customer-ml
  features` without and with ``--engine spark``);
- scoring: load + feature store + scores with reasons of every customer, written (`customer-ml
  score` without and with ``--engine spark``; the local job also writes its report).

Then the Spark steps again with ``local[k]`` for each ``--cores`` k (default 1, so the
machine's own cores give the scaling from one to all of them).

Rows per second count transactions for features and customers for scoring. Peak memory is
the proportional set size (PSS) of this process and its children (Spark's JVM and Python
workers, the local job's forked scoring workers) above the step's start: pages shared
between processes, as a forked worker shares its parent's, are split between them, not
counted once per process. It is sampled every half second: reading a large process's page
map costs tens of ms of CPU, so sampling more often slows the step measured. ``--skip``
leaves steps out by their printed names (e.g. ``--skip "scoring local,scoring spark"``);
``--memory-limit`` sets the default engine's DuckDB limit (``duckdb.memory_limit``).
Figures are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from snapshot import TX_COLUMNS, parse_rows, write_synthetic

from customer_ml.config import Config, load_config


def _tree_pss() -> int:
    """PSS of this process and its children, in bytes (shared pages split, not repeated)."""
    me = psutil.Process()
    total = me.memory_full_info().pss
    for child in me.children(recursive=True):
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += child.memory_full_info().pss
    return total


@contextmanager
def measure(out: dict[str, Any], name: str, count: int | None) -> Iterator[None]:
    base = _tree_pss()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak[0] = max(peak[0], _tree_pss())

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - t0
        done.set()
        th.join()
        mb = round((peak[0] - base) / 2**20)
        out[name] = {"seconds": round(seconds, 1), "peak_mb": mb}
        rate = ""
        if count is not None:
            out[name]["per_s"] = round(count / seconds)
            rate = f"{count / seconds:12,.0f}/s"
        print(f"  {name:<26} {seconds:8.1f} s  {rate:>14}  peak +{mb:,} MB")


def config(root: Path, data: Path, *, name: str, memory_limit: str | None = None) -> Config:
    raw: dict[str, Any] = {
        "data": {"transactions": {"path": str(data), "columns": {c: c for c in TX_COLUMNS}}},
        "project": "bench-spark",
        "backtest": {"n_origins": 1, "n_train_cutoffs": 2, "n_boot": 20},
        "paths": {"out": str(root / f"out-{name}"), "mlruns": str(root / "mlruns")},
        "spark": {"master": "local[*]", "conf": {"spark.driver.memory": "4g"}},
    }
    if memory_limit:
        raw["duckdb"] = {"memory_limit": memory_limit, "temp_directory": str(root / "spill")}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10M")
    parser.add_argument("--out", default="bench/results/spark.json")
    parser.add_argument("--cores", default="1", help="Spark local[k] runs after local[*]")
    parser.add_argument("--skip", default="", help='steps left out, e.g. "scoring local"')
    parser.add_argument("--memory-limit", default=None, help="the default engine's DuckDB limit")
    args = parser.parse_args()
    rows = parse_rows(args.rows)
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    from customer_ml.data.load import load_data
    from customer_ml.features.materialise import build_features, write_features
    from customer_ml.jobs.batch import run_job, score_job
    from customer_ml.jobs.spark import spark_data, spark_features_job, spark_score_job

    result: dict[str, Any] = {"rows": rows, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "big").mkdir()
        (root / "small").mkdir()
        big = Path(write_synthetic(rows, root / "big", one_file=True))
        write_synthetic(200_000, root / "small")
        small_cfg = config(root, next((root / "small").glob("*.parquet")), name="small")
        trained = run_job(small_cfg)
        as_of = trained.as_of
        cfg = config(root, big, name="big", memory_limit=args.memory_limit)
        n_rows = pq.ParquetFile(big).metadata.num_rows
        print(f"{n_rows:,} transactions; models trained on {len(trained.scores):,} customers")
        result["transactions"] = n_rows
        result["memory_limit"] = args.memory_limit

        customers = None
        if "features local" not in skip:
            with measure(result, "features local", n_rows):
                data = load_data(cfg)
                frame = build_features(data, as_of=as_of, config=cfg)
                write_features(frame, root / "features.parquet")
            customers = result["customers"] = len(frame)
            if "scoring local" not in skip:
                with measure(result, "scoring local", customers):
                    score_job(cfg, as_of=as_of, data=data)
            del data, frame

        cores = [int(k) for k in args.cores.split(",") if k]
        for i, master in enumerate(["local[*]", *(f"local[{k}]" for k in cores)]):
            tag = "spark" if master == "local[*]" else f"spark {master}"
            with measure(result, f"{tag} session", None):
                sd = spark_data(cfg, master=master)
            if f"features {tag}" not in skip:
                with measure(result, f"features {tag}", n_rows):
                    out = root / f"features_spark_{i}"
                    spark_features_job(cfg, as_of=as_of, out=out, data=sd)
            if f"scoring {tag}" not in skip:
                with measure(result, f"scoring {tag}", customers):
                    spark_score_job(cfg, as_of=as_of, out=root / f"out-spark-{i}", data=sd)
            sd.spark.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    for step in ("features", "scoring"):
        spark = result.get(f"{step} spark", {}).get("seconds")
        if spark and f"{step} local" in result:
            ratio = spark / result[f"{step} local"]["seconds"]
            print(f"{step}: Spark local[*] takes {ratio:.1f}x the default engine's time")
        for k in cores:
            one = result.get(f"{step} spark local[{k}]", {}).get("seconds")
            if spark and one:
                print(f"{step}: Spark local[*] is {one / spark:.2f}x as fast as local[{k}]")


if __name__ == "__main__":
    main()
