"""Benchmark: the default engine vs Spark local[*] on synthetic transactions (not a test).

    python bench/spark.py --rows 10M          # make bench-spark

For the size: synthetic transactions (about 10 per customer) in one Parquet file; models
trained once on a small synthetic project of the same shape (20k customers, registered in a
temporary MLflow store). Then timed, each engine reading the same file:

- features: load + snapshot + tags as of the last day, written to Parquet (`customer-ml
  features` without and with ``--engine spark``);
- scoring: load + feature store + scores with reasons of every customer, written (`customer-ml
  score` without and with ``--engine spark``; the local job also writes its report).

Rows per second count transactions for features and customers for scoring. Peak memory is
the resident set size of this process and its children (Spark's JVM and Python workers)
above the step's start, sampled every 50 ms. Figures are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from snapshot import TX_COLUMNS, parse_rows, write_synthetic

from customer_ml.config import Config, load_config


def _tree_rss() -> int:
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total


@contextmanager
def measure(out: dict[str, Any], name: str, count: int) -> Iterator[None]:
    base = _tree_rss()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_rss())

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
        out[name] = {"seconds": round(seconds, 1), "per_s": round(count / seconds), "peak_mb": mb}
        print(f"  {name:<18} {seconds:8.1f} s  {count / seconds:12,.0f}/s  peak +{mb:,} MB")


def config(root: Path, data: Path, *, name: str) -> Config:
    raw = {
        "data": {"transactions": {"path": str(data), "columns": {c: c for c in TX_COLUMNS}}},
        "project": "bench-spark",
        "backtest": {"n_origins": 1, "n_train_cutoffs": 2, "n_boot": 20},
        "tuning": {"n_trials": 2, "timeout_s": 10, "max_rounds": 100},
        "paths": {"out": str(root / f"out-{name}"), "mlruns": str(root / "mlruns")},
        "spark": {"master": "local[*]", "conf": {"spark.driver.memory": "4g"}},
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10M")
    parser.add_argument("--out", default="bench/results/spark.json")
    args = parser.parse_args()
    rows = parse_rows(args.rows)
    from customer_ml.data.load import load_data
    from customer_ml.features.materialise import build_features, write_features
    from customer_ml.jobs.batch import run_job, score_job
    from customer_ml.jobs.spark import spark_data, spark_features_job, spark_score_job

    result: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "big").mkdir()
        (root / "small").mkdir()
        write_synthetic(rows, root / "big")
        write_synthetic(200_000, root / "small")
        big = next((root / "big").glob("*.parquet"))
        small_cfg = config(root, next((root / "small").glob("*.parquet")), name="small")
        trained = run_job(small_cfg)
        as_of = trained.as_of
        cfg = config(root, big, name="big")
        n_rows = len(pd.read_parquet(big, columns=["customer_id"]))
        print(f"{n_rows:,} transactions; models trained on {len(trained.scores):,} customers")
        result["transactions"] = n_rows

        with measure(result, "features local", n_rows):
            data = load_data(cfg)
            frame = build_features(data, as_of=as_of, config=cfg)
            write_features(frame, root / "features.parquet")
        customers = len(frame)
        result["customers"] = customers
        with measure(result, "scoring local", customers):
            score_job(cfg, as_of=as_of, data=data)
        del data, frame

        with measure(result, "spark session", 1):
            sd = spark_data(cfg)
        with measure(result, "features spark", n_rows):
            spark_features_job(cfg, as_of=as_of, out=root / "features_spark", data=sd)
        with measure(result, "scoring spark", customers):
            spark_score_job(cfg, as_of=as_of, out=root / "out-spark", data=sd)
        sd.spark.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    for step in ("features", "scoring"):
        ratio = result[f"{step} spark"]["seconds"] / result[f"{step} local"]["seconds"]
        print(f"{step}: Spark local[*] takes {ratio:.1f}x the default engine's time")


if __name__ == "__main__":
    main()
