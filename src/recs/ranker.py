"""The LightGBM lambdarank model that ranks the candidates, and its training rows.

A training cut ``c`` gives the candidates as of ``c`` (rows with ts <= c) labelled by what
the customer bought in ``(c, c + horizon]``; several cuts stack into one training set (each
customer-cut is its own query). Only queries with a purchase among their candidates teach a
ranker, and lambdarank learns from pairs, so all positives are kept with about `negatives`
sampled negatives per query.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RANKER_DEFAULTS", "features", "fit_ranker", "sample_queries"]

RANKER_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "num_boost_round": 80,
}
# one thread: on a shared machine OpenMP's busy-waiting threads made two threads ~10x slower
THREADS = 1


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The ranker's inputs: every candidate column but the ids."""
    return frame.drop(columns=["cust", "item"])


def sample_queries(
    frame: pd.DataFrame, y: np.ndarray, *, negatives: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Queries (customers) with a positive; all positives and on average `negatives`
    negatives each."""
    cust = frame.cust.to_numpy()
    pos = np.bincount(cust, weights=y, minlength=int(cust.max()) + 1 if len(cust) else 0)
    size = np.bincount(cust, minlength=len(pos))
    n_neg = (size - pos)[cust]
    rng = np.random.default_rng(seed)
    keep = (pos[cust] > 0) & (y | (rng.random(len(y)) < negatives / np.maximum(n_neg, 1)))
    return frame[keep], y[keep]


def fit_ranker(
    parts: list[tuple[pd.DataFrame, np.ndarray]], *, params: dict[str, Any], seed: int
) -> Any | None:
    """A lambdarank booster on the stacked, sampled training cuts; None without positives.

    Each part is one cut's sampled frame (sorted by customer) and its labels."""
    import lightgbm as lgb

    parts = [(f, y) for f, y in parts if len(f) and y.any()]
    if not parts:
        return None
    x = pd.concat([features(f) for f, _ in parts], ignore_index=True)
    y = np.concatenate([y for _, y in parts]).astype(int)
    group = np.concatenate([f.groupby("cust", sort=False).size().to_numpy() for f, _ in parts])
    p = {**RANKER_DEFAULTS, **params}
    rounds = int(p.pop("num_boost_round"))
    p.update(
        objective="lambdarank",
        seed=seed,
        num_threads=THREADS,
        verbose=-1,
        deterministic=True,
        force_row_wise=True,
        feature_pre_filter=False,
    )
    data = lgb.Dataset(x, label=y, group=group, free_raw_data=True)
    return lgb.train(p, data, num_boost_round=rounds)
