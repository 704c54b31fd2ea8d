"""Backtest of every recommender on a time split, and the choice of the champion.

The split is ``cut = as_of - horizon_days``: every candidate is fitted on rows up to the cut
(the blend's ranker learns at cuts one and two horizons earlier still) and judged on what
customers known at the cut bought in ``(cut, as_of]``. Task ``all`` judges every product
bought; task ``new`` only products the customer had never bought by the cut.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from customer_ml.data.dataset import Dataset
from customer_ml.recs.history import History
from customer_ml.recs.interactions import EPOCH, day_number
from customer_ml.recs.metrics import per_customer, summarise
from customer_ml.recs.recommender import TASKS, Recommender

__all__ = ["METHODS", "Backtest", "backtest_recommenders", "day_date"]

BASELINES = ("popularity", "cooccurrence", "basket", "als")
METHODS = {"all": ("ranker", "repeat", *BASELINES), "new": ("ranker", *BASELINES)}


def day_date(day: int) -> dt.date:
    """The calendar date of a day number (days since 1970-01-01)."""
    return (EPOCH + pd.Timedelta(days=day)).date()


@dataclass
class Backtest:
    """Per task and method: recall@k, NDCG@k with 95 % intervals, coverage, customers; and
    per customer judged (`per_customer`'s n_true, hits, recall, ndcg by customer_id)."""

    cut: pd.Timestamp
    k: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def score(self, task: str, method: str) -> float:
        """NDCG@k of `method` on `task`."""
        t = self.table()
        return float(t[(t.task == task) & (t.method == method)][f"ndcg@{self.k}"].iloc[0])

    def hits(self) -> pd.DataFrame:
        """Each task's champion, per customer judged: task, method, customer_id, n_true,
        hits, recall, ndcg."""
        best = {t: self.champion(t) for t in TASKS}
        parts = [
            self.customers[(t, m)].reset_index().assign(task=t, method=m)
            for t, m in best.items()
            if (t, m) in self.customers
        ]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def champion(self, task: str) -> str:
        """The method with the best NDCG@k on the task (the blend wins ties)."""
        t = self.table()
        t = t[t.task == task]
        best = t[f"ndcg@{self.k}"].max()
        winners = t[t[f"ndcg@{self.k}"] >= best - 1e-12].method.tolist()
        return "ranker" if "ranker" in winners else winners[0]


def backtest_recommenders(
    data: Dataset | None = None,
    *,
    as_of: str | dt.date | pd.Timestamp,
    horizon_days: int,
    k: int = 10,
    n_boot: int = 200,
    recommender: Recommender | None = None,
    history: History | None = None,
) -> Backtest:
    """Fit every method as of ``as_of - horizon_days`` and judge the next horizon.

    Reads rows up to `as_of` only: the judged window ends at `as_of`. `history` (read up to
    as_of) shares its cuts with later fits.
    """
    if history is None:
        assert data is not None, "give data or a history"
        history = History(data, as_of=as_of, horizon_days=horizon_days)
    cut = day_number(as_of) - horizon_days
    rec = recommender or Recommender()
    rec.fit(as_of=day_date(cut), horizon_days=horizon_days, history=history)
    assert rec.it_ is not None
    bt = Backtest(cut=pd.Timestamp(day_date(cut)), k=k)
    for task in TASKS:
        truth = history.future(cut, task=task)
        for method in METHODS[task]:
            recs = rec.recommend(k=k, task=task, method=method, reasons=False)
            pc = bt.customers[(task, method)] = per_customer(recs, truth, k=k)
            m = summarise(recs, truth, k=k, n_items=rec.it_.n_items, n_boot=n_boot, pc=pc)
            bt.rows.append({"task": task, "method": method, **m})
    return bt
