"""Backtest of every recommender on a time split, and the choice of the champion.

The split is ``cut = as_of - horizon_days``: every candidate is fitted on rows up to the cut
(the blend's ranker learns one horizon earlier still) and judged on what customers known at
the cut bought in ``(cut, as_of]``. Task ``all`` judges every product bought; task ``new``
only products the customer had never bought by the cut.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from customer_ml.data.dataset import Dataset
from customer_ml.recs.interactions import future_purchases
from customer_ml.recs.metrics import summarise
from customer_ml.recs.recommender import TASKS, Recommender

__all__ = ["METHODS", "Backtest", "backtest_recommenders", "judged_purchases"]

METHODS = {
    "all": ("ranker", "repeat", "popularity", "cooccurrence", "als"),
    "new": ("ranker", "popularity", "cooccurrence", "als"),
}


@dataclass
class Backtest:
    """Per task and method: recall@k, NDCG@k with 95 % intervals, coverage, customers."""

    cut: pd.Timestamp
    k: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def champion(self, task: str) -> str:
        """The method with the best NDCG@k on the task (the blend wins ties)."""
        t = self.table()
        t = t[t.task == task]
        best = t[f"ndcg@{self.k}"].max()
        winners = t[t[f"ndcg@{self.k}"] >= best - 1e-12].method.tolist()
        return "ranker" if "ranker" in winners else winners[0]


def judged_purchases(
    data: Dataset, rec: Recommender, *, cut: pd.Timestamp, horizon_days: int
) -> dict[str, pd.DataFrame]:
    """What customers known at the cut bought in (cut, cut + horizon]: all, and new to them."""
    assert rec.it_ is not None
    it = rec.it_
    fut = future_purchases(data, as_of=cut, horizon_days=horizon_days)
    fut = fut[fut.customer_id.isin(it.customers)]
    had = pd.DataFrame(
        {
            "customer_id": it.customers[it.pairs.cust.to_numpy()],
            "product_id": it.items.product_id.to_numpy()[it.pairs.item.to_numpy()],
            "had": True,
        }
    )
    both = fut.merge(had, on=["customer_id", "product_id"], how="left")
    return {"all": fut, "new": both[both.had.isna()][["customer_id", "product_id"]]}


def backtest_recommenders(
    data: Dataset,
    *,
    as_of: str | dt.date | pd.Timestamp,
    horizon_days: int,
    k: int = 10,
    n_boot: int = 200,
    recommender: Recommender | None = None,
) -> Backtest:
    """Fit every method as of ``as_of - horizon_days`` and judge the next horizon.

    Reads rows up to `as_of` only: the judged window ends at `as_of`.
    """
    cut = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=horizon_days)
    rec = recommender or Recommender()
    rec.fit(data, as_of=cut, horizon_days=horizon_days)
    truth = judged_purchases(data, rec, cut=cut, horizon_days=horizon_days)
    assert rec.it_ is not None
    bt = Backtest(cut=cut, k=k)
    for task in TASKS:
        for method in METHODS[task]:
            recs = rec.recommend(k=k, task=task, method=method, reasons=False)
            m = summarise(recs, truth[task], k=k, n_items=rec.it_.n_items, n_boot=n_boot)
            bt.rows.append({"task": task, "method": method, **m})
    return bt
