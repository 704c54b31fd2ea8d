"""Load on the scoring service for `bench/service_fuzz.py` (run by locust, not by pytest).

Each user POSTs /score for one customer of the feature store (its ids from
$CUSTOMER_ML_BENCH_IDS, one a line), with the API key of $CUSTOMER_ML_API_KEY; one request in
ten is a batch of 10. The run stops after $CUSTOMER_ML_BENCH_REQUESTS requests (default 10,000).
A reply that is not 200 with one score per customer sent, and no per-customer error, fails.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, events, task

IDS = Path(os.environ["CUSTOMER_ML_BENCH_IDS"]).read_text().split()
LIMIT = int(os.environ.get("CUSTOMER_ML_BENCH_REQUESTS", "10000"))
HEADERS = {"Authorization": f"Bearer {os.environ.get('CUSTOMER_ML_API_KEY', '')}"}
sent = 0


@events.request.add_listener
def _stop_at_limit(**kwargs: Any) -> None:
    global sent
    sent += 1
    runner = kwargs["context"].get("runner") if kwargs.get("context") else None
    if sent == LIMIT and runner is not None:
        gevent.spawn(runner.quit)  # after this request is counted


class ScoringClient(FastHttpUser):
    def context(self) -> dict[str, Any]:
        return {"runner": self.environment.runner}

    def _score(self, ids: list[str], name: str) -> None:
        body = {"customers": [{"customer_id": i} for i in ids]}
        with self.client.post(
            "/score", json=body, headers=HEADERS, name=name, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}: {r.text[:200]}")
                return
            got = r.json()
            if len(got) != len(ids) or any(g["error"] for g in got):
                r.failure(f"bad reply: {r.text[:200]}")

    @task(9)
    def one(self) -> None:
        self._score([random.choice(IDS)], "/score (1)")

    @task(1)
    def batch(self) -> None:
        self._score(random.sample(IDS, 10), "/score (10)")
