"""Serving and batch-scoring benchmark (not part of the tests).

    python bench/serve.py --config configs/default.yaml      # after `make demo`

1. Batch scoring with reasons (customers/s): `CustomerScorer.score` on the feature store's
   customers repeated to --batch rows, against the obvious alternative measured in the same
   run: a per-row loop of `shap.TreeExplainer` + predict (the ratio is per customer).
2. HTTP: a real `bentoml serve` on a free loopback port; one-customer POST /score at a fixed
   --rate (open loop, requests sent on schedule whatever the replies) for --seconds: p50/p99
   latency and errors; then closed-loop clients for the maximum sustained requests/s with no
   errors. Results go to bench/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from customer_ml.launch import REPO, start_service, stop_service


def batch(config_path: Path, n: int) -> dict[str, float]:
    import shap

    from customer_ml.config import load_config
    from customer_ml.scoring.models import load_models
    from customer_ml.scoring.score import CustomerScorer
    from customer_ml.scoring.store import consolidate, read_store

    cfg = load_config(config_path)
    scorer = CustomerScorer(load_models(cfg), read_store(cfg.paths.out), cfg)
    base = scorer.store.frame
    reps = int(np.ceil(n / len(base)))
    frame = pd.concat([base] * reps, ignore_index=True).iloc[:n]
    frame["customer_id"] = [f"b{i}" for i in range(len(frame))]
    frame = consolidate(frame)
    t = time.perf_counter()
    scores = scorer.score(frame)
    with_reasons = len(scores) / (time.perf_counter() - t)
    t = time.perf_counter()
    scorer.models.churn.scorer.predict(frame)
    scorer.models.ltv.scorer.predict(frame)
    predict_only = len(frame) / (time.perf_counter() - t)
    # the alternative: per customer, TreeExplainer SHAP values and the prediction
    churn = scorer.models.churn.scorer
    cols = list(churn.features_in_)
    booster = getattr(churn, "booster_", None)
    loop = float("nan")
    if booster is not None:
        explainer = shap.TreeExplainer(booster)
        rows = frame[cols].to_numpy(float)[:200]
        t = time.perf_counter()
        for r in rows:
            explainer.shap_values(r[None, :])
            booster.predict(r[None, :])
        loop = len(rows) / (time.perf_counter() - t)
    return {
        "customers": len(frame),
        "batch_with_reasons_per_s": with_reasons,
        "predict_only_per_s": predict_only,
        "per_row_treeexplainer_loop_per_s": loop,
        "ratio_vs_loop": with_reasons / loop,
        "churn_trees": float(booster.num_trees()) if booster is not None else float("nan"),
    }


async def open_loop(url: str, ids: list[str], rate: float, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def one(cid: str) -> None:
            nonlocal errors
            t = time.perf_counter()
            try:
                r = await client.post("/score", json={"customers": [{"customer_id": cid}]})
                errors += r.status_code != 200
            except httpx.HTTPError:
                errors += 1
            lat.append(time.perf_counter() - t)

        tasks = []
        start_t = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start_t + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(ids[i % len(ids)])))
        await asyncio.gather(*tasks)
    ms = np.array(lat) * 1000
    return {
        "rate": rate,
        "requests": len(ms),
        "errors": errors,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


async def closed_loop(url: str, ids: list[str], clients: int, seconds: float) -> dict[str, float]:
    done = errors = 0
    end = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def worker(k: int) -> None:
            nonlocal done, errors
            i = k
            while time.perf_counter() < end:
                r = await client.post(
                    "/score", json={"customers": [{"customer_id": ids[i % len(ids)]}]}
                )
                done += 1
                errors += r.status_code != 200
                i += clients

        await asyncio.gather(*(worker(k) for k in range(clients)))
    return {"clients": clients, "requests_per_s": done / seconds, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "default.yaml")
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve.json")
    args = ap.parse_args()
    result: dict[str, object] = {"batch": batch(args.config, args.batch)}
    print(json.dumps(result, indent=2))
    from customer_ml.config import load_config

    ids = pd.read_parquet(load_config(args.config).paths.out / "scores.parquet").customer_id
    ids = [str(i) for i in ids.sample(min(2000, len(ids)), random_state=0)]
    os.environ.pop("CUSTOMER_ML_API_KEY", None)  # measured without the key check
    proc, url = start_service(args.config.resolve(), timeout_s=120)
    try:
        asyncio.run(open_loop(url, ids, 5, 3))  # warm-up
        result["http_open_loop"] = [
            asyncio.run(open_loop(url, ids, rate, args.seconds)) for rate in (10, args.rate)
        ]
        result["http_max"] = max(
            (asyncio.run(closed_loop(url, ids, c, 8)) for c in (1, 2, 4)),
            key=lambda r: r["requests_per_s"] if r["errors"] == 0 else -1,
        )
    finally:
        stop_service(proc)
    result["cores"] = os.cpu_count() or 0
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
