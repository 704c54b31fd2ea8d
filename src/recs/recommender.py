"""The blended recommender: candidates from every generator, ranked by LightGBM lambdarank.

`fit(data, as_of=D, horizon_days=H)` trains the ranker on the generators fitted as of
``D - H``, labelled by what customers bought in ``(D - H, D]``, then refits the generators on
rows up to ``D``: nothing after `as_of` is read. Two tasks: ``all`` (repurchases count) and
``new`` (products the customer never bought).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from customer_ml.data.dataset import Dataset
from customer_ml.recs.candidates import GENERATORS, Generator
from customer_ml.recs.interactions import Interactions, future_purchases, interactions
from customer_ml.recs.reasons import explain

__all__ = ["TASKS", "Recommender", "candidate_block", "top_k"]

TASKS = ("all", "new")
BLOCK = 4096


def candidate_block(
    it: Interactions, gens: dict[str, Generator], rows: np.ndarray, *, task: str, n: int
) -> pd.DataFrame:
    """Candidates of customers `rows`: the union of each generator's top `n`, with features."""
    scores = {g: gen.scores(it, rows) for g, gen in gens.items()}
    bought = it.matrix()[rows].toarray()
    last = it.matrix("last_day")[rows].toarray()
    first = it.matrix("first_day")[rows].toarray()
    mask = np.zeros(bought.shape, bool)
    for g, s in scores.items():
        if task == "new":
            s[bought > 0] = -np.inf
        if g == "repeat":
            mask |= s > 0
            continue
        top = np.argpartition(-s, min(n, s.shape[1] - 1), axis=1)[:, :n]
        np.put_along_axis(mask, top, True, axis=1)
    if task == "new":
        mask &= bought == 0
    r, i = np.nonzero(mask)
    f: dict[str, Any] = {"cust": rows[r], "item": i.astype(np.int32)}
    for g, s in scores.items():
        f[f"{g}_score"] = np.where(np.isfinite(s[r, i]), s[r, i], 0.0).astype(np.float32)
    nb = bought[r, i]
    f["n_days"] = nb
    age = np.where(nb > 0, it.day - last[r, i], np.nan)
    cycle = np.where(nb > 1, (last[r, i] - first[r, i]) / np.maximum(nb - 1, 1), np.nan)
    f["days_since"], f["cycle"], f["due"] = age, cycle, age / cycle
    f["customer_products"] = (bought > 0).sum(axis=1)[r]
    f["customer_days"] = bought.sum(axis=1)[r]
    f["customer_idle"] = it.day - np.where(bought > 0, last, -1e9).max(axis=1)[r]
    cat = it.items.category.to_numpy()
    if pd.notna(cat).any():
        codes = pd.factorize(cat)[0]
        onehot = sp.csr_matrix(
            (np.ones(len(codes)), (np.arange(len(codes)), codes + 1)),
            shape=(len(codes), codes.max() + 2),
        )
        share = bought @ onehot
        share /= np.maximum(share.sum(axis=1, keepdims=True), 1)
        f["category_share"] = share[r, codes[i] + 1]
    frame = pd.DataFrame(f)
    by = frame.groupby("cust", sort=False)
    for g in scores:  # rank among the customer's candidates, 1 = best
        frame[f"{g}_rank"] = by[f"{g}_score"].rank(ascending=False, method="min").astype("f4")
    return frame


def top_k(frame: pd.DataFrame, score: np.ndarray, k: int) -> pd.DataFrame:
    """The k best rows per customer by `score`, with ``rank`` from 1."""
    out = frame.assign(score=score).sort_values(["cust", "score"], ascending=[True, False])
    out["rank"] = out.groupby("cust").cumcount() + 1
    return out[out["rank"] <= k]


@dataclass
class Recommender:
    """Blend of popularity, personal repeat, co-occurrence and ALS, ranked by lambdarank."""

    generators: tuple[str, ...] = ("popularity", "repeat", "cooccurrence", "als")
    n_candidates: int = 50
    recent_days: int = 30
    negatives: int = 40
    als: dict[str, Any] = field(default_factory=dict)
    ranker_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 42
    it_: Interactions | None = None
    gens_: dict[str, Generator] = field(default_factory=dict)
    rankers_: dict[str, Any] = field(default_factory=dict)
    candidates_: dict[str, list[pd.DataFrame]] = field(default_factory=dict, repr=False)

    def _fit_generators(self, it: Interactions) -> dict[str, Generator]:
        gens: dict[str, Generator] = {}
        for g in self.generators:
            kwargs = {**self.als, "seed": self.seed} if g == "als" else {}
            gens[g] = GENERATORS[g](**kwargs).fit(it)
        return gens

    def frames(self, it: Interactions, gens: dict[str, Generator], *, task: str):  # type: ignore[no-untyped-def]
        for start in range(0, it.n_customers, BLOCK):
            rows = np.arange(start, min(start + BLOCK, it.n_customers))
            yield candidate_block(it, gens, rows, task=task, n=self.n_candidates)

    def fit(
        self, data: Dataset, *, as_of: str | dt.date | pd.Timestamp, horizon_days: int
    ) -> Recommender:
        """Rows with ts <= as_of only: the ranker learns at as_of - horizon_days."""
        import lightgbm as lgb

        end = pd.Timestamp(as_of).normalize()
        cut = end - pd.Timedelta(days=horizon_days)
        it0 = interactions(data, as_of=cut, recent_days=self.recent_days)
        gens0 = self._fit_generators(it0)
        bought = future_purchases(data, as_of=cut, horizon_days=horizon_days)
        cust = it0.customers.get_indexer(bought.customer_id)
        item = pd.Index(it0.items.product_id).get_indexer(bought.product_id)
        ok = (cust >= 0) & (item >= 0)
        truth = cust[ok].astype(np.int64) * it0.n_items + item[ok]  # one key per pair
        for task in TASKS:
            frame = pd.concat(list(self.frames(it0, gens0, task=task)), ignore_index=True)
            keys = frame.cust.to_numpy(np.int64) * it0.n_items + frame.item.to_numpy()
            y = np.isin(keys, truth)
            frame, y = self._sample(frame, y)
            params = {
                "objective": "lambdarank",
                "n_estimators": 200,
                "learning_rate": 0.05,
                "num_leaves": 31,
                "min_child_samples": 20,
                "random_state": self.seed,
                "n_jobs": 2,
                "verbose": -1,
                **self.ranker_params,
            }
            model = lgb.LGBMRanker(**params)
            if len(frame) and y.any():
                group = frame.groupby("cust", sort=False).size().to_numpy()
                model.fit(self.features(frame), y.astype(int), group=group)
                self.rankers_[task] = model
        self.it_ = interactions(data, as_of=end, recent_days=self.recent_days)
        self.gens_ = self._fit_generators(self.it_)
        self.candidates_ = {}
        return self

    def candidates(self, task: str) -> list[pd.DataFrame]:
        """The candidate frames of every customer for `task`, computed once per fit."""
        assert self.it_ is not None, "fit first"
        if task not in self.candidates_:
            self.candidates_[task] = list(self.frames(self.it_, self.gens_, task=task))
        return self.candidates_[task]

    def _sample(self, frame: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """Customers with a purchase among their candidates; all positives and on average
        `negatives` negatives each (lambdarank learns from pairs, so most negatives are
        redundant and cost time)."""
        by = pd.Series(y).groupby(frame.cust.to_numpy())
        any_pos = by.transform("any").to_numpy()
        n_neg = (~pd.Series(y)).groupby(frame.cust.to_numpy()).transform("sum").to_numpy()
        rng = np.random.default_rng(self.seed)
        keep = any_pos & (y | (rng.random(len(y)) < self.negatives / np.maximum(n_neg, 1)))
        return frame[keep], y[keep]

    @staticmethod
    def features(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=["cust", "item"])

    def recommend(
        self, *, k: int = 10, task: str = "all", method: str = "ranker", reasons: bool = True
    ) -> pd.DataFrame:
        """Top `k` per customer known at as_of: customer_id, rank, product_id, score, reason.

        `method` is ``ranker`` (the blend) or a generator's name (that baseline alone; the
        repeat baseline is filled up with popularity).
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {task!r}")
        assert self.it_ is not None, "fit first"
        it, parts = self.it_, []
        for frame in self.candidates(task):
            if method == "ranker" and task in self.rankers_:
                s = self.rankers_[task].predict(self.features(frame))
            elif method == "ranker":
                s = frame["popularity_score"].to_numpy()
            elif method == "repeat":
                s = frame.repeat_score.to_numpy() * 1e6 + frame.popularity_score.to_numpy()
            else:
                s = frame[f"{method}_score"].to_numpy()
            parts.append(top_k(frame, s, k))
        out = pd.concat(parts, ignore_index=True)
        out["reason"] = explain(it, self.gens_, out) if reasons else ""
        out["customer_id"] = it.customers[out.cust.to_numpy()]
        out["product_id"] = it.items.product_id.to_numpy()[out.item.to_numpy()]
        cols = ["customer_id", "rank", "product_id", "score", "reason"]
        return out[cols].reset_index(drop=True)

    def for_new_customer(self, k: int = 10) -> pd.DataFrame:
        """Popularity, for a customer with no history: rank, product_id, score, reason."""
        assert self.it_ is not None
        pop = self.gens_["popularity"].scores(self.it_, np.zeros(1, int))[0]
        best = np.argsort(-pop, kind="stable")[:k]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(best) + 1),
                "product_id": self.it_.items.product_id.to_numpy()[best],
                "score": pop[best],
                "reason": "new customer",
            }
        )
