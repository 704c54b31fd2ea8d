"""Fuzz and load the HTTP service (not part of the tests).

    python bench/service_fuzz.py --config configs/default.yaml     # after `make demo`

1. schemathesis over the service's OpenAPI spec (/docs.json), every operation, valid and
   invalid inputs (its coverage and fuzzing phases), check `not_a_server_error`: the count of
   5xx replies must be 0.
2. locust, headless: --users clients POST /score (9 in 10 one customer, 1 in 10 a batch of
   10) until --requests requests; every reply must be 200 with a score per customer.

Both against one real `bentoml serve` on a free loopback port with the API key check on.
Results go to bench/results/service_fuzz.json; the exit code is 1 if either finds an error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from customer_ml.config import load_config
from serving.launch import REPO, start_service, stop_service

BIN = Path(sys.executable).parent
KEY = "bench-key"


def fuzz(url: str, *, examples: int, seed: int, work: Path) -> dict[str, object]:
    report = work / "schemathesis.json"
    t = time.perf_counter()
    done = subprocess.run(
        [
            *(str(BIN / "schemathesis"), "run", f"{url}/docs.json", "-H", f"X-API-Key: {KEY}"),
            *("--checks", "not_a_server_error", "--max-examples", str(examples)),
            *("--seed", str(seed), "--no-color", "--request-timeout", "30"),
            *("--report-json-path", str(report)),
        ],
        capture_output=True,
        text=True,
        cwd=work,
    )
    found = re.search(r"(\d+) generated, (.*)", done.stdout)
    return {
        "tool": "schemathesis",
        "examples_per_operation": examples,
        "seed": seed,
        "test_cases": int(found.group(1)) if found else None,
        "outcome": found.group(2).strip() if found else done.stdout[-500:],
        "server_errors": 0 if done.returncode == 0 else "see outcome",
        "seconds": round(time.perf_counter() - t, 1),
        "exit_code": done.returncode,
    }


def load(url: str, *, ids: list[str], requests: int, users: int, work: Path) -> dict[str, object]:
    (work / "ids.txt").write_text("\n".join(ids))
    stats = work / "locust.json"
    env = os.environ | {
        "CUSTOMER_ML_BENCH_IDS": str(work / "ids.txt"),
        "CUSTOMER_ML_BENCH_REQUESTS": str(requests),
        "CUSTOMER_ML_API_KEY": KEY,
    }
    t = time.perf_counter()
    done = subprocess.run(
        [
            *(str(BIN / "locust"), "-f", str(REPO / "bench" / "locustfile.py"), "--headless"),
            *("--host", url, "-u", str(users), "-r", str(users), "--run-time", "15m"),
            *("--json-file", str(stats.with_suffix("")), "--skip-log", "--only-summary"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
    )
    seconds = time.perf_counter() - t
    rows = json.loads(stats.read_text()) if stats.is_file() else []
    total = sum(r["num_requests"] for r in rows)
    failed = sum(r["num_failures"] for r in rows)
    per = {
        r["name"]: {
            "requests": r["num_requests"],
            "failures": r["num_failures"],
            "mean_ms": round(r["total_response_time"] / max(r["num_requests"], 1), 2),
            "max_ms": round(r["max_response_time"], 1),
        }
        for r in rows
    }
    return {
        "tool": "locust",
        "users": users,
        "requests": total,
        "failures": failed,
        "requests_per_s": round(total / seconds, 1),
        "by_request": per,
        "exit_code": done.returncode,
        "stderr_tail": done.stderr[-800:] if done.returncode not in (0, 1) else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "default.yaml")
    ap.add_argument("--examples", type=int, default=200, help="schemathesis examples per operation")
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "service_fuzz.json")
    args = ap.parse_args()
    config = args.config.resolve()
    ids = pd.read_parquet(load_config(config).paths.out / "scores.parquet").customer_id
    proc, url = start_service(config, env={"CUSTOMER_ML_API_KEY": KEY})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = {
                "fuzz": fuzz(url, examples=args.examples, seed=args.seed, work=Path(tmp)),
                "load": load(
                    url,
                    ids=ids.astype(str).tolist(),
                    requests=args.requests,
                    users=args.users,
                    work=Path(tmp),
                ),
            }
    finally:
        stop_service(proc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = result["fuzz"]["exit_code"] == 0 and result["load"]["failures"] == 0
    return 0 if ok and result["load"]["requests"] >= args.requests else 1


if __name__ == "__main__":
    sys.exit(main())
