"""What `customer-ml recommend` leaves for scoring, target lists, the service and the report:
the serving table, the backtest and its per-customer hits, in ``<paths.out>-recs/`` beside
the run outputs (a run replaces its own folder whole, so they live next to it)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from customer_ml.config import Config

__all__ = ["HITS", "METRICS", "SERVING", "Published", "read_published", "recs_folder"]

SERVING = "serving.parquet"  # customer_id, task, rank, product_id, score, reason, category, as_of
METRICS = "metrics.json"  # the backtest: cut, k, champion per task, every method's row
HITS = "hits.parquet"  # per customer judged at the cut: task, n_true, hits, recall, ndcg
NEW_CUSTOMER = ("", "new customer")  # the serving table's key of the popularity list


def recs_folder(config: Config) -> Path:
    """Where recommendations live: beside the run outputs."""
    out = config.paths.out
    return out.with_name(f"{out.name}-recs")


@dataclass
class Published:
    """The latest recommendations of a config, as of `as_of`."""

    folder: Path
    as_of: dt.date
    served: pd.DataFrame
    metrics: dict[str, Any] | None = None
    hits: pd.DataFrame | None = None

    def top_products(self, customers: pd.Series, *, k: int, task: str = "all") -> pd.Series:
        """Each customer's best `k` product ids for `task` as a list, in the order of
        `customers`; a customer the recommendations do not know gets the popularity list."""
        s = self.served
        mine = s[(s.task == task) & (s["rank"] <= k)].sort_values(["customer_id", "rank"])
        lists = mine.groupby("customer_id", sort=False).product_id.agg(list)
        pop = s[(s.customer_id == NEW_CUSTOMER[0]) & (s.task == NEW_CUSTOMER[1])]
        fallback = pop.sort_values("rank").product_id.head(k).tolist()
        got = customers.astype(str).map(lists)
        return got.apply(lambda v: v if isinstance(v, list) else list(fallback))

    def champion(self, task: str) -> str | None:
        return (self.metrics or {}).get("champion", {}).get(task)


def read_published(config: Config, folder: Path | None = None) -> Published | None:
    """The recommendations in `folder` (default: the config's), or None when there are none."""
    folder = folder or recs_folder(config)
    path = folder / SERVING
    if not path.is_file():
        return None
    served = pd.read_parquet(path)
    served["customer_id"] = served["customer_id"].astype(str)
    as_of = pd.Timestamp(str(served["as_of"].iloc[0])).date()
    metrics = json.loads((folder / METRICS).read_text()) if (folder / METRICS).is_file() else None
    hits = pd.read_parquet(folder / HITS) if (folder / HITS).is_file() else None
    return Published(folder, as_of, served, metrics, hits)
