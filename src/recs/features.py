"""Candidate pairs and their features, for the ranker and for every baseline.

A block of customers' candidates is the union of each generator's top `n` products (and, for
the task ``all``, every product the customer bought); for ``new`` products the customer bought
are left out. Features come from the interactions as of the date and the fitted generators
only (rows with ``ts <= as_of``): each generator's score and its rank among the customer's
candidates, the customer's history of the product (days bought, days since, own cycle, how due
it is), the customer's breadth and idle days, the category's share of the customer's history,
and the product's popularity and its trend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from customer_ml.recs.candidates import Generator, Popularity
from customer_ml.recs.interactions import Interactions

__all__ = ["TASKS", "candidate_frames", "group_order", "top_k"]

TASKS = ("all", "new")


def group_order(cust: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ordered by customer then score (best first): the order, each sorted row's
    position in its customer's list (1 = best) and its rank with ties sharing the best
    position ("min" ranks)."""
    s = np.asarray(score, float)
    order = np.lexsort((-s, cust))
    c, v = cust[order], s[order]
    pos = np.arange(len(c))
    new_cust = np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, bool)
    new_value = new_cust | np.r_[True, v[1:] != v[:-1]] if len(c) else new_cust
    start = np.maximum.accumulate(np.where(new_cust, pos, 0))
    run = np.maximum.accumulate(np.where(new_value, pos, 0))
    return order, pos - start + 1, run - start + 1


def _category_share(it: Interactions, bought: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    cat = it.items.category.to_numpy()
    if not pd.notna(cat).any():
        return None
    codes = pd.factorize(cat)[0]
    onehot = sp.csr_matrix(
        (np.ones(len(codes)), (np.arange(len(codes)), codes + 1)),
        shape=(len(codes), codes.max() + 2),
    )
    share = np.asarray(sp.csr_matrix(bought) @ onehot.toarray())
    share /= np.maximum(share.sum(axis=1, keepdims=True), 1)
    return share, codes + 1


def _frame(
    it: Interactions,
    gens: dict[str, Generator],
    scores: dict[str, np.ndarray],
    hist: dict[str, Any],
    rows: np.ndarray,
    mask: np.ndarray,
) -> pd.DataFrame:
    r, i = np.nonzero(mask)
    f: dict[str, Any] = {"cust": rows[r].astype(np.int32), "item": i.astype(np.int32)}
    for g, s in scores.items():
        f[f"{g}_score"] = s[r, i].astype(np.float32)
    nb = hist["bought"][r, i]
    last, first = hist["last"][r, i], hist["first"][r, i]
    f["n_days"] = nb
    age = np.where(nb > 0, it.day - last, np.nan)
    cycle = np.where(nb > 1, (last - first) / np.maximum(nb - 1, 1), np.nan)
    f["days_since"], f["cycle"], f["due"] = age, cycle, age / cycle
    for key in ("customer_products", "customer_days", "customer_idle"):
        f[key] = hist[key][r]
    if hist["share"] is not None:
        share, codes = hist["share"]
        f["category_share"] = share[r, codes[i]]
    pop = gens.get("popularity")
    if isinstance(pop, Popularity):
        f["popularity_trend"] = pop.trend_[i]
    for g in scores:  # rank among the customer's candidates, 1 = best
        order, _, rank = group_order(f["cust"], f[f"{g}_score"])
        f[f"{g}_rank"] = np.empty(len(order), np.float32)
        f[f"{g}_rank"][order] = rank
    return pd.DataFrame(f)


def candidate_frames(
    it: Interactions, gens: dict[str, Generator], rows: np.ndarray, *, n: int
) -> dict[str, pd.DataFrame]:
    """Per task, the candidates of customers `rows` with their features (one scoring pass
    serves both tasks)."""
    bought = it.matrix()[rows].toarray()
    had = bought > 0
    hist: dict[str, Any] = {
        "bought": bought,
        "last": it.matrix("last_day")[rows].toarray(),
        "first": it.matrix("first_day")[rows].toarray(),
        "customer_products": had.sum(axis=1),
        "customer_days": bought.sum(axis=1),
    }
    hist["customer_idle"] = it.day - np.where(had, hist["last"], -1e9).max(axis=1)
    hist["share"] = _category_share(it, bought)
    scores = {g: gen.scores(it, rows) for g, gen in gens.items()}
    # each generator's top `n` products the customer never bought: new candidates; with every
    # product bought they hold each generator's overall top `n` too (removing bought products
    # only moves unbought ones up), so one partition per generator serves both tasks
    k = min(n, it.n_items - 1)
    fresh = np.zeros_like(had)
    for g, s in scores.items():
        if g == "repeat":
            continue
        top = np.argpartition(np.where(had, np.inf, -s), k, axis=1)[:, :n]
        np.put_along_axis(fresh, top, True, axis=1)
    fresh &= ~had
    return {
        t: _frame(it, gens, scores, hist, rows, m)
        for t, m in (("all", had | fresh), ("new", fresh))
    }


def top_k(frame: pd.DataFrame, score: np.ndarray, k: int) -> pd.DataFrame:
    """The k best rows per customer by `score`, with ``rank`` from 1 (ties: frame order)."""
    order, rank, _ = group_order(frame.cust.to_numpy(), score)
    keep = order[rank <= k]
    out = frame.iloc[keep].assign(score=np.asarray(score)[keep], rank=rank[rank <= k])
    return out.reset_index(drop=True)
