"""Benchmark: choosing and fitting the segmentation of 1M customers.

    python bench/segments.py [--customers 1000000] [--base 100000] [--baseline-cap-s 600]

The snapshot: `--base` synthetic customers (planted segments) go through the real feature
pipeline (`build_snapshot`), and their rows are drawn with replacement up to `--customers`
(building a 1M-customer snapshot from ~15M transactions would time DuckDB, not the
segmentation). Ours: `choose_segments` as the job runs it (search on a 10,000-customer sample,
every customer assigned, named and profiled). The straightforward alternative, measured in the
same run: the same walk over k (the configuration ours chose, same k values, same bootstrap
refits) with sklearn KMeans fit on all customers each time, silhouette on 10,000 of them (a
full silhouette on 1M is 10^12 distances); it stops at `--baseline-cap-s`, and the ratio is
then a lower bound. Each runs in its own process, which reports its time and peak RSS.
Results are printed and written as JSON (bench/results/segments.json).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import generate
from customer_ml.features.snapshot import build_snapshot
from customer_ml.models.segments import make_segmenter, segment_columns
from customer_ml.train.segments import choose_segments


def snapshot(n: int, base: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """`n` customers drawn from the snapshot of `base` synthetic ones, and their truth."""
    syn = generate(base, seed=seed, with_events=False)
    snap = build_snapshot(from_frames(syn.transactions), as_of="2024-12-30")
    truth = syn.truth.set_index("customer_id").loc[snap["customer_id"].astype(str), "segment"]
    idx = np.random.default_rng(seed).choice(len(snap), n, replace=True)
    out = snap.iloc[idx].reset_index(drop=True)
    out["customer_id"] = np.char.add("B", np.arange(n).astype(str))
    return out, truth.to_numpy()[idx]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(snap: pd.DataFrame, truth: np.ndarray) -> dict[str, Any]:
    t0 = time.perf_counter()
    seg = choose_segments(snap, seed=0)
    secs = time.perf_counter() - t0
    return {
        "seconds": round(secs, 2),
        "peak_rss_mb": round(_peak_mb()),
        "params": seg.params,
        "quality": {k: round(v, 4) for k, v in seg.quality.items()},
        "ari_vs_planted": round(adjusted_rand_score(truth, seg.labels), 4),
        "names": {str(k): v for k, v in seg.names.items()},
        "walks": {
            f"{t.params_algorithm}/{t.params_transform}": t.user_attrs_walk
            for t in seg.trials.itertuples()
        },
    }


def baseline(snap: pd.DataFrame, params: dict[str, Any], ks: list[int], cap: float) -> dict:
    """The same walk with KMeans fit on every customer (5 bootstrap refits per k)."""
    t0 = time.perf_counter()
    cols = segment_columns(snap)
    prep = make_segmenter(cols, k=2, algorithm="kmeans", transform=params["transform"], n_rows=0)
    Z = prep[:-1].fit_transform(snap)
    rng = np.random.default_rng(0)
    sil_idx = rng.choice(len(Z), 10_000, replace=False)
    done: list[int] = []
    for k in ks:
        labels = KMeans(k, n_init=4, random_state=0).fit_predict(Z)
        silhouette_score(Z[sil_idx], labels[sil_idx])
        for b in range(5):
            boot = rng.choice(len(Z), len(Z), replace=True)
            KMeans(k, n_init=4, random_state=b + 1).fit(Z[boot]).predict(Z)
            if time.perf_counter() - t0 > cap:
                break
        done.append(k)
        if time.perf_counter() - t0 > cap:
            break
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "peak_rss_mb": round(_peak_mb()),
        "k_done": done,
        "complete": done == ks and time.perf_counter() - t0 <= cap,
    }


def _run(q: Any, fn: Any, *args: Any) -> None:
    q.put(fn(*args))


def in_process(fn: Any, *args: Any) -> dict[str, Any]:
    """Run `fn(*args)` in a forked process (its own peak RSS) and return its result."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_run, args=(q, fn, *args))
    p.start()
    out = q.get()
    p.join()
    return dict(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--base", type=int, default=100_000)
    ap.add_argument("--baseline-cap-s", type=float, default=600.0)
    ap.add_argument("--out", default="bench/results/segments.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    snap, truth = snapshot(args.customers, args.base)
    out: dict[str, Any] = {
        "customers": args.customers,
        "cores": os.cpu_count(),
        "snapshot_seconds": round(time.perf_counter() - t0, 2),
        "snapshot_mb": round(snap.memory_usage(deep=True).sum() / 2**20),
    }
    print(f"snapshot: {out['snapshot_seconds']} s, {out['snapshot_mb']} MB")
    out["customer_ml"] = in_process(ours, snap, truth)
    print(f"customer_ml choose_segments: {json.dumps(out['customer_ml'], default=str)}")
    best = out["customer_ml"]["params"]
    walked = out["customer_ml"]["walks"][f"{best['algorithm']}/{best['transform']}"]
    ks = [int(p.split(":")[0][2:]) for p in walked.split("; ")]
    out["baseline"] = in_process(baseline, snap, best, ks, args.baseline_cap_s)
    out["baseline"]["what"] = "sklearn KMeans on all customers, same walk and refits"
    print(f"baseline: {out['baseline']}")
    ratio = out["baseline"]["seconds"] / out["customer_ml"]["seconds"]
    out["speedup_vs_baseline"] = round(ratio, 1)
    out["speedup_is_lower_bound"] = not out["baseline"]["complete"]
    print(f"ratio {ratio:.1f}x{' (lower bound)' if out['speedup_is_lower_bound'] else ''}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
