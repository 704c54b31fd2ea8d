"""A dataset's purchase days up to a date, read once, and what each cut date derives from them.

A job fits generators and builds candidates at several cuts (the ranker's training cuts, the
backtest's cut, the date itself); each is computed once here and shared. Everything at a cut
``c`` uses purchase days ``<= c`` only; labels of a cut are the purchases in
``(c, c + horizon]``, available only when that window ends by the history's date.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd

from customer_ml.data.dataset import Dataset
from customer_ml.errors import DataError
from customer_ml.recs.candidates import GENERATORS, Generator
from customer_ml.recs.features import TASKS, candidate_frames
from customer_ml.recs.interactions import Interactions, day_number, from_events, purchase_days

__all__ = ["BLOCK", "History", "candidates", "fit_generators"]

BLOCK = 4096  # customers per dense scoring block


def fit_generators(it: Interactions, spec: dict[str, dict[str, Any]]) -> dict[str, Generator]:
    """Each generator of `spec` (name -> its parameters) fitted on `it`."""
    return {g: GENERATORS[g](**kw).fit(it) for g, kw in spec.items()}


def candidates(it: Interactions, gens: dict[str, Generator], *, n: int) -> dict[str, pd.DataFrame]:
    """Every customer's candidates with features, per task, in blocks of BLOCK customers."""
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TASKS}
    for start in range(0, it.n_customers, BLOCK):
        rows = np.arange(start, min(start + BLOCK, it.n_customers))
        for t, f in candidate_frames(it, gens, rows, n=n).items():
            parts[t].append(f)
    return {t: pd.concat(p, ignore_index=True) for t, p in parts.items()}


class History:
    """Purchase days of `data` with ts <= `as_of`, and per cut its interactions, fitted
    generators, candidates and labels (each computed once)."""

    def __init__(
        self, data: Dataset, *, as_of: str | dt.date | pd.Timestamp, horizon_days: int
    ) -> None:
        self.events = purchase_days(data, as_of=as_of)
        if self.events.empty:
            raise DataError(f"no purchases with a product_id at or before {as_of}")
        self.day = day_number(as_of)
        self.first_day = int(self.events.day.min())
        self.horizon_days = horizon_days
        self._it: dict[int, Interactions] = {}
        self._gens: dict[tuple[int, str], dict[str, Generator]] = {}
        self._cands: dict[tuple[int, str, int], dict[str, pd.DataFrame]] = {}

    def interactions(self, cut: int) -> Interactions:
        """Purchases up to day `cut` (days since the epoch)."""
        if cut > self.day:
            raise ValueError(f"cut {cut} is after the history's date {self.day}")
        if cut not in self._it:
            self._it[cut] = from_events(self.events, day=cut)
        return self._it[cut]

    def generators(self, cut: int, spec: dict[str, dict[str, Any]]) -> dict[str, Generator]:
        key = (cut, json.dumps(spec, sort_keys=True))
        if key not in self._gens:
            self._gens[key] = fit_generators(self.interactions(cut), spec)
        return self._gens[key]

    def candidates(
        self, cut: int, spec: dict[str, dict[str, Any]], *, n: int
    ) -> dict[str, pd.DataFrame]:
        key = (cut, json.dumps(spec, sort_keys=True), n)
        if key not in self._cands:
            self._cands[key] = candidates(self.interactions(cut), self.generators(cut, spec), n=n)
        return self._cands[key]

    def future(self, cut: int, *, task: str) -> pd.DataFrame:
        """customer_id, product_id bought in (cut, cut + horizon] by customers known at the cut
        (for ``new``: products they had not bought by the cut)."""
        end = cut + self.horizon_days
        if end > self.day:
            raise ValueError(f"labels of cut {cut} need purchases after the history's date")
        e = self.events
        d = e.day.to_numpy()
        fut = e.loc[(d > cut) & (d <= end), ["customer_id", "product_id"]].drop_duplicates()
        it = self.interactions(cut)
        fut = fut[fut.customer_id.astype("str").isin(it.customers)]
        if task == "new":
            past = e.loc[d <= cut, ["customer_id", "product_id"]].drop_duplicates()
            both = fut.merge(past.assign(had=True), on=["customer_id", "product_id"], how="left")
            fut = both[both.had.isna()][["customer_id", "product_id"]]
        return fut.reset_index(drop=True)

    def labels(self, cut: int, frame: pd.DataFrame, *, task: str) -> np.ndarray:
        """Per candidate row of `frame` (built at `cut`): bought in (cut, cut + horizon]."""
        it = self.interactions(cut)
        fut = self.future(cut, task=task)
        cust = it.customers.get_indexer(fut.customer_id.astype("str"))
        item = pd.Index(it.items.product_id).get_indexer(fut.product_id.astype("str"))
        ok = (cust >= 0) & (item >= 0)
        truth = cust[ok].astype(np.int64) * it.n_items + item[ok]
        keys = frame.cust.to_numpy(np.int64) * it.n_items + frame.item.to_numpy()
        return np.isin(keys, truth)

    def training_cuts(self, day: int, *, n: int, min_history_days: int = 30) -> list[int]:
        """Up to `n` cuts day - h, day - 2h, ... whose labels end by `day` and which have at
        least `min_history_days` of history before them (the first is always kept)."""
        cuts = [day - k * self.horizon_days for k in range(1, n + 1)]
        keep = [c for c in cuts if c - self.first_day >= min_history_days]
        return keep or cuts[:1]
