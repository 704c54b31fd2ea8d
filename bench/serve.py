"""Serving and batch-scoring benchmark (not part of the tests).

    python bench/serve.py --config configs/default.yaml      # after `make demo`

1. Batch scoring with reasons (customers/s): `CustomerScorer.score` on --batch new synthetic
   customers (the demo's generator with more customers: all distinct, as of the demo store's
   date) as batch jobs run it (one forked worker per core), and in one process (each the
   median of 3 runs), against the alternatives measured in the same run: LightGBM's
   `pred_contrib` in one call per model (TreeSHAP alone), and a per-row loop of
   `shap.TreeExplainer` + predict over the churn and LTV boosters (ratios per customer).
   Then one more scoring run in one process with each stage timed (wall and CPU seconds:
   tags, segments, churn, LTV and its purchase part, reasons, playbook), to show what bounds
   the throughput.
2. HTTP: a real `bentoml serve` on a free loopback port; one-customer POST /score at a fixed
   --rate (open loop, requests sent on schedule whatever the replies) for --seconds: p50/p99
   latency and errors, with the API key check on (Authorization: Bearer); one-customer POST
   /recommend (top 10) the same way (after `customer-ml recommend` for the config when it has
   no recommendations yet); then closed-loop clients for the maximum sustained requests/s
   with no errors. Results go to
   bench/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import numpy as np
import pandas as pd

from serving.launch import REPO, start_service, stop_service


def population(config_path: Path, n: int) -> tuple[Any, pd.DataFrame]:
    """The demo's scorer, and `n` new synthetic customers (the demo's generator with more
    customers, so every customer is distinct) as scoring rows on the demo store's date."""
    from customer_ml.config import load_config
    from customer_ml.data.load import load_data
    from customer_ml.scoring.feature_store import build_store, read_store
    from customer_ml.scoring.models import load_models
    from customer_ml.scoring.score import CustomerScorer

    cfg = load_config(config_path)
    models = load_models(cfg)
    store = read_store(cfg.paths.out)
    assert cfg.data.synthetic is not None, "the batch benchmark needs a synthetic config"
    synthetic = cfg.data.synthetic.model_copy(update={"n_customers": n})
    bigger = cfg.model_copy(update={"data": cfg.data.model_copy(update={"synthetic": synthetic})})
    rows = build_store(load_data(bigger), as_of=store.as_of, config=bigger, schema=models.schema)
    return CustomerScorer(models, store, cfg), rows.frame


def batch(config_path: Path, n: int) -> dict[str, float]:
    import shap

    from customer_ml.scoring.parallel import worker_count

    warnings.filterwarnings("ignore", message="LightGBM binary classifier", module="shap")

    scorer, frame = population(config_path, n)
    scorer.score(frame.iloc[:5000])  # warm-up (imports, thread pools)
    with_reasons, runs = median_rate(lambda: scorer.score(frame), len(frame))
    one_process, one_runs = median_rate(lambda: scorer.score(frame, workers=1), len(frame))
    t = time.perf_counter()
    scorer.models.churn.scorer.predict(frame)
    scorer.models.ltv.scorer.predict(frame)
    predict_only = len(frame) / (time.perf_counter() - t)
    boosters = [
        getattr(m.scorer, "booster_", None) for m in (scorer.models.churn, scorer.models.ltv)
    ]
    cols = [m.scorer.features_in_ for m in (scorer.models.churn, scorer.models.ltv)]
    # LightGBM's TreeSHAP in one call per model, on a slice (it is linear in rows)
    k = min(len(frame), 20_000)
    t = time.perf_counter()
    for b, c in zip(boosters, cols, strict=True):
        if b is not None:
            b.predict(frame[c].iloc[:k].to_numpy(float), pred_contrib=True)
    pred_contrib = k / (time.perf_counter() - t)
    # the obvious alternative: per customer, TreeExplainer SHAP values and the prediction
    explainers = [(shap.TreeExplainer(b), b, c) for b, c in zip(boosters, cols, strict=True) if b]
    rows = 200
    t = time.perf_counter()
    for i in range(rows):
        for explainer, b, c in explainers:
            r = frame[c].iloc[i : i + 1].to_numpy(float)
            explainer.shap_values(r)
            b.predict(r)
    loop = rows / (time.perf_counter() - t)
    return {
        "customers": len(frame),
        "stages": stages(scorer, frame),
        "batch_with_reasons_per_s": with_reasons,
        "batch_with_reasons_runs_per_s": runs,
        "workers": worker_count(len(frame), scorer.config.scoring.workers),
        "batch_with_reasons_one_process_per_s": one_process,
        "batch_with_reasons_one_process_runs_per_s": one_runs,
        "predict_only_per_s": predict_only,
        "lightgbm_pred_contrib_per_s": pred_contrib,
        "per_row_treeexplainer_loop_per_s": loop,
        "ratio_vs_loop": with_reasons / loop,
        "ratio_vs_pred_contrib": with_reasons / pred_contrib,
        "trees": {
            name: b.num_trees() for name, b in zip(("churn", "ltv"), boosters, strict=True) if b
        },
    }


def median_rate(run: Callable[[], Any], n: int, repeat: int = 3) -> tuple[float, list[float]]:
    """Items per second of `run` (which handles `n`): the median of `repeat` runs, and each."""
    rates = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        rates.append(n / (time.perf_counter() - t))
    return float(np.median(rates)), rates


def score_body(cid: str) -> tuple[str, dict[str, Any]]:
    return "/score", {"customers": [{"customer_id": cid}]}


def recommend_body(cid: str) -> tuple[str, dict[str, Any]]:
    return "/recommend", {"request": {"customer_id": cid, "k": 10}}


async def open_loop(
    url: str,
    ids: list[str],
    rate: float,
    seconds: float,
    headers: dict[str, str],
    body: Callable[[str], tuple[str, dict[str, Any]]] = score_body,
) -> dict[str, float]:
    lat: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=10, headers=headers) as client:

        async def one(cid: str) -> None:
            nonlocal errors
            t = time.perf_counter()
            try:
                path, payload = body(cid)
                r = await client.post(path, json=payload)
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


async def closed_loop(
    url: str, ids: list[str], clients: int, seconds: float, headers: dict[str, str]
) -> dict[str, float]:
    done = errors = 0
    end = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=10, headers=headers) as client:

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


def stages(scorer: Any, frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """One more `scorer.score(frame)` in one process (forked workers' stages would not be
    timed here) with each stage timed: wall and CPU (all threads) seconds."""
    from customer_ml.scoring import score as module

    out: dict[str, dict[str, float]] = {}

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            result = fn(*args, **kwargs)
            t = out.setdefault(label, {"wall_s": 0.0, "cpu_s": 0.0})
            t["wall_s"] += time.perf_counter() - wall
            t["cpu_s"] += time.process_time() - cpu
            return result

        return run

    models = scorer.models
    targets: list[tuple[Any, str, str]] = [
        (module, "tag_columns", "tags"),
        (models.segments, "assign", "segments"),
        (models.churn.scorer, "predict_explain", "churn"),
        (models.ltv.scorer, "predict_explain", "ltv (all)"),
        (module, "render_reasons", "reasons"),
        (module, "apply_playbook", "playbook"),
    ]
    if getattr(models.ltv.scorer, "two_part", False):
        targets.append((models.ltv.scorer.purchase_, "predict", "ltv purchase part"))
    with ExitStack() as stack:
        for obj, name, label in targets:
            stack.enter_context(mock.patch.object(obj, name, timed(label, getattr(obj, name))))
        wall, cpu = time.perf_counter(), time.process_time()
        scorer.score(frame, workers=1)
        out["all"] = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    return {k: {m: round(v, 3) for m, v in t.items()} for k, t in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "default.yaml")
    ap.add_argument("--batch", type=int, default=200_000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve.json")
    ap.add_argument("--only", choices=["http", "batch"], help="run one of the two parts")
    args = ap.parse_args()
    result: dict[str, object] = {}
    if args.only != "batch":
        result |= http(args)
        print(json.dumps(result, indent=2))
    if args.only != "http":
        result["batch"] = batch(args.config, args.batch)
    result["cores"] = os.cpu_count() or 0
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


def recommendations(config_path: Path) -> bool:
    """Run `customer-ml recommend` for the config when it has products and no
    recommendations yet (the service loads them at start-up); whether it has them now."""
    from customer_ml.config import load_config
    from customer_ml.data.load import load_data
    from customer_ml.errors import DataError
    from customer_ml.recs.published import SERVING, recs_folder
    from customer_ml.scoring.feature_store import read_store
    from customer_ml.train.recommend import recommend_job

    cfg = load_config(config_path)
    folder = recs_folder(cfg)
    if (folder / SERVING).is_file():
        return True
    as_of = read_store(cfg.paths.out).as_of  # the demo's scoring date
    try:
        recommend_job(cfg, load_data(cfg), as_of=as_of, out=folder / "recs.parquet", n_boot=0)
    except DataError as err:  # no product_id mapped: no /recommend to measure
        print(f"no /recommend benchmark: {err}")
        return False
    return True


def http(args: argparse.Namespace) -> dict[str, object]:
    from customer_ml.config import load_config

    # HTTP first, from a process without the batch's millions of objects (its garbage
    # collections would show up as client-side latency)
    ids = pd.read_parquet(load_config(args.config).paths.out / "scores.parquet").customer_id
    ids = [str(i) for i in ids.sample(min(2000, len(ids)), random_state=0)]
    # measured with the key check on, as a deployment runs it
    key = {"CUSTOMER_ML_API_KEY": "bench-" + os.urandom(8).hex()}
    headers = {"Authorization": f"Bearer {key['CUSTOMER_ML_API_KEY']}"}
    result: dict[str, object] = {"api_key_check": True}
    has_recs = recommendations(args.config)
    proc, url = start_service(args.config.resolve(), env=key, timeout_s=120)
    try:
        asyncio.run(open_loop(url, ids, 5, 3, headers))  # warm-up
        result["http_open_loop"] = [
            asyncio.run(open_loop(url, ids, rate, args.seconds, headers))
            for rate in (10, args.rate)
        ]
        if has_recs:  # POST /recommend (top 10, a known customer) at the same rate
            asyncio.run(open_loop(url, ids, 5, 3, headers, recommend_body))
            result["recommend_open_loop"] = asyncio.run(
                open_loop(url, ids, args.rate, args.seconds, headers, recommend_body)
            )
        result["http_max"] = max(
            (asyncio.run(closed_loop(url, ids, c, 8, headers)) for c in (1, 2, 4)),
            key=lambda r: r["requests_per_s"] if r["errors"] == 0 else -1,
        )
    finally:
        stop_service(proc)
    return result


if __name__ == "__main__":
    main()
