"""Reasons in words for each recommended product, from the signal that put it there."""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_ml.recs.candidates import CoOccurrence, Generator
from customer_ml.recs.interactions import Interactions

__all__ = ["explain"]


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _bought_with(
    it: Interactions, gen: CoOccurrence, cust: np.ndarray, item: np.ndarray
) -> list[str | None]:
    """Per pair: the customer's own product that contributes most to the co-occurrence score."""
    if gen.sim_ is None or not len(cust):
        return []
    w = gen.weights(it, cust)  # pairs x items: log(1 + days bought) of the pair's customer
    contrib = w.multiply(gen.sim_.T.tocsr()[item]).tocsr()
    best = np.asarray(contrib.argmax(axis=1)).ravel()
    top = np.asarray(contrib.max(axis=1).todense()).ravel()
    days = np.asarray(it.matrix()[cust, best]).ravel()
    pid = it.items.product_id.to_numpy()
    return [
        f"bought with {pid[b]}, which you bought {_times(int(d))}" if t > 0 else None
        for b, d, t in zip(best, days, top, strict=True)
    ]


def explain(it: Interactions, gens: dict[str, Generator], recs: pd.DataFrame) -> np.ndarray:
    """One sentence per row of `recs` (columns cust, item and the candidate features)."""
    n = recs.n_days.to_numpy()
    cycle, since = recs.cycle.to_numpy(), recs.days_since.to_numpy()
    out = np.full(len(recs), "popular in the last 30 days", dtype=object)
    inf = np.full(len(recs), np.inf)
    cr = recs.get("cooccurrence_rank", pd.Series(inf)).to_numpy()
    ar = recs.get("als_rank", pd.Series(inf)).to_numpy()
    pr = recs.get("popularity_rank", pd.Series(inf)).to_numpy()
    out[ar < pr] = "customers who buy what you buy also buy this"
    cooc = gens.get("cooccurrence")
    pick = (n == 0) & (cr <= np.minimum(ar, pr))
    if isinstance(cooc, CoOccurrence) and pick.any():
        idx = np.flatnonzero(pick)
        why = _bought_with(it, cooc, recs.cust.to_numpy()[idx], recs.item.to_numpy()[idx])
        for i, w in zip(idx, why, strict=True):
            if w is not None:
                out[i] = w
    once = n == 1
    out[once] = [f"you bought this once, {d:.0f} days ago" for d in since[once]]
    rep = (n > 1) & np.isfinite(cycle) & (cycle > 0)
    out[rep] = [
        f"you buy this every {c:.0f} days (last {d:.0f} days ago)"
        for c, d in zip(cycle[rep], since[rep], strict=True)
    ]
    return out
