"""Benchmark: BG/NBD maximum-likelihood fit on 1M customers.

    python bench/btyd.py [--customers 1000000]

Customers are drawn from a BG/NBD population (r=0.24, alpha=4.4, a=0.79, b=2.4, the CDNOW
estimates), observed for 39 to 78 weeks. Times our fit and, when it is importable in the
same environment, lifetimes' ``BetaGeoFitter`` on the same rows, and reports both estimates
and the ratio. Results are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from customer_ml.models import BetaGeoModel
from customer_ml.models.simulate import simulate_bgnbd

TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    """BG/NBD customers observed 39 to 78 weeks, times rounded to whole days (in weeks)."""
    T = np.round(np.random.default_rng(seed).uniform(39, 78, n) * 7) / 7
    X, _ = simulate_bgnbd(n, params=tuple(TRUTH.values()), T=T, t=0.0, seed=seed)  # type: ignore[arg-type]
    return X.assign(recency=np.floor(X["recency"] * 7) / 7)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--out", default="bench/results/btyd.json")
    args = ap.parse_args()
    X = simulate(args.customers)
    out: dict[str, object] = {"customers": args.customers, "truth": TRUTH}
    t0 = time.perf_counter()
    ours = BetaGeoModel().fit(X)
    out["customer_ml"] = {"seconds": round(time.perf_counter() - t0, 2), "params": ours.params_}
    print(f"customer_ml BetaGeoModel: {out['customer_ml']}")
    try:
        from lifetimes import BetaGeoFitter  # type: ignore[import-not-found]
    except ImportError:
        out["lifetimes"] = "not installed"
        print("lifetimes: not installed (pip install lifetimes to compare)")
    else:
        t0 = time.perf_counter()
        ref = BetaGeoFitter().fit(X["frequency"], X["recency"], X["T"])
        secs = time.perf_counter() - t0
        out["lifetimes"] = {"seconds": round(secs, 2), "params": dict(ref.params_)}
        out["speedup_vs_lifetimes"] = round(secs / out["customer_ml"]["seconds"], 1)  # type: ignore[index]
        print(f"lifetimes BetaGeoFitter: {out['lifetimes']}, ratio {out['speedup_vs_lifetimes']}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
