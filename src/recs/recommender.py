"""The blended recommender: candidates from every generator, ranked by LightGBM lambdarank.

`fit(data, as_of=D, horizon_days=H)` trains the ranker on the candidates at the cuts
``D - H`` (and ``D - 2H`` when there is history before it), each labelled by what customers
bought in the horizon after it (its parameters first tuned with Optuna on an inner split when
`tune_trials` > 0, see `customer_ml.recs.tuning`), then fits the generators on rows up to
``D``: nothing after `as_of` is read. Two tasks: ``all`` (repurchases count) and ``new``
(products the customer never bought).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from customer_ml.data.dataset import Dataset
from customer_ml.recs.candidates import Generator
from customer_ml.recs.features import TASKS, top_k
from customer_ml.recs.history import History, candidates
from customer_ml.recs.interactions import Interactions, day_number
from customer_ml.recs.ranker import features, fit_ranker, sample_queries
from customer_ml.recs.reasons import explain
from customer_ml.recs.tuning import RankerTuning, tune_ranker

__all__ = ["GENERATOR_DEFAULTS", "TASKS", "Recommender", "method_scores", "top_k"]

GENERATOR_DEFAULTS: dict[str, dict[str, Any]] = {
    "popularity": {"days": 30},
    "repeat": {},
    "cooccurrence": {"neighbours": 100},
    "basket": {"window_days": 180, "neighbours": 100},
    "als": {"factors": 32, "regularization": 0.05, "alpha": 10.0, "iterations": 15},
}


def method_scores(frame: pd.DataFrame, method: str, ranker: Any | None) -> np.ndarray:
    """Scores of candidates by `method`: ``ranker`` (the blend; popularity without one) or a
    generator's own score (``repeat`` filled up with popularity)."""
    if method == "ranker":
        if ranker is None:
            return frame["popularity_score"].to_numpy()
        return np.asarray(ranker.predict(features(frame), num_threads=1))
    if method == "repeat":
        return frame.repeat_score.to_numpy() * 1e6 + frame.popularity_score.to_numpy()
    return frame[f"{method}_score"].to_numpy()


@dataclass
class Recommender:
    """Blend of popularity, personal repeat, co-occurrence, recent baskets and ALS, ranked by
    lambdarank. `generators` overrides the parameters of GENERATOR_DEFAULTS per generator."""

    generators: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_candidates: int = 30
    negatives: int = 20
    train_cuts: int = 2
    ranker_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 42
    tune_trials: int = 0  # Optuna trials for the ranker before each fit (0: ranker_params)
    tune_timeout_s: float = 20.0
    it_: Interactions | None = None
    gens_: dict[str, Generator] = field(default_factory=dict)
    rankers_: dict[str, Any] = field(default_factory=dict)
    candidates_: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    cuts_: list[int] = field(default_factory=list)
    params_: dict[str, Any] = field(default_factory=dict)  # the ranker's, as fitted
    tuning_: RankerTuning | None = field(default=None, repr=False)

    @property
    def spec(self) -> dict[str, dict[str, Any]]:
        """Every generator's parameters (defaults, overridden by `generators`)."""
        out = {g: {**kw, **self.generators.get(g, {})} for g, kw in GENERATOR_DEFAULTS.items()}
        out["als"]["seed"] = self.seed
        return out

    def training_set(
        self, history: History, cut: int, *, task: str
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The sampled candidates of one training cut and their labels."""
        frame = history.candidates(cut, self.spec, n=self.n_candidates)[task]
        y = history.labels(cut, frame, task=task)
        return sample_queries(frame, y, negatives=self.negatives, seed=self.seed + cut)

    def fit(
        self,
        data: Dataset | None = None,
        *,
        as_of: str | dt.date | pd.Timestamp,
        horizon_days: int,
        history: History | None = None,
    ) -> Recommender:
        """Rows with ts <= as_of only: the ranker learns at the training cuts before as_of.

        `history` (read up to as_of or later) shares cuts computed by an earlier fit."""
        day = day_number(as_of)
        if history is None:
            assert data is not None, "give data or a history"
            history = History(data, as_of=as_of, horizon_days=horizon_days)
        self.cuts_ = history.training_cuts(day, n=self.train_cuts)
        self.params_ = dict(self.ranker_params)
        if self.tune_trials > 0:
            self.tuning_ = tune_ranker(
                history, self, day=day, n_trials=self.tune_trials, timeout_s=self.tune_timeout_s
            )
            self.params_ = self.tuning_.params
        for task in TASKS:
            parts = [self.training_set(history, c, task=task) for c in self.cuts_]
            model = fit_ranker(parts, params=self.params_, seed=self.seed)
            if model is not None:
                self.rankers_[task] = model
        self.it_ = history.interactions(day)
        self.gens_ = history.generators(day, self.spec)
        self.candidates_ = history.candidates(day, self.spec, n=self.n_candidates)
        return self

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
        return self.rank(
            self.it_, self.candidates_[task], k=k, task=task, method=method, reasons=reasons
        )

    def rank(
        self,
        it: Interactions,
        frame: pd.DataFrame,
        *,
        k: int,
        task: str,
        method: str,
        reasons: bool = True,
    ) -> pd.DataFrame:
        """The top `k` of candidates `frame` (built on `it`) by `method`."""
        out = top_k(frame, method_scores(frame, method, self.rankers_.get(task)), k)
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

    def score_history(self, it: Interactions, *, k: int, task: str, method: str) -> pd.DataFrame:
        """Top `k` for the customers of `it` (built on this model's catalogue, e.g. from
        purchase rows sent later) with the fitted generators and ranker."""
        frame = candidates(it, self.gens_, n=self.n_candidates)[task]
        return self.rank(it, frame, k=k, task=task, method=method)
