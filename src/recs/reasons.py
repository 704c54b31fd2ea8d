"""Reasons in words for each recommended product, from the signal that put it there."""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_ml.recs.candidates import Basket, CoOccurrence, Generator
from customer_ml.recs.interactions import Interactions

__all__ = ["REASON_KINDS", "explain", "reason_kind"]


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _bought_with(
    it: Interactions, gen: CoOccurrence, cust: np.ndarray, item: np.ndarray
) -> list[str | None]:
    """Per pair: the customer's own product that contributes most to the generator's score."""
    if gen.sim_ is None or not len(cust):
        return []
    w = gen.weights(it, cust)  # pairs x items: the pair's customer's weights
    contrib = w.multiply(gen.sim_.T.tocsr()[item]).tocsr()
    best = np.asarray(contrib.argmax(axis=1)).ravel()
    top = np.asarray(contrib.max(axis=1).todense()).ravel()
    days = np.asarray(it.matrix()[cust, best]).ravel()
    last = np.asarray(it.matrix("last_day")[cust, best]).ravel()
    pid = it.items.product_id.to_numpy()
    if isinstance(gen, Basket):
        return [
            f"often in the same basket as {pid[b]}, which you bought {it.day - d:.0f} days ago"
            if t > 0
            else None
            for b, d, t in zip(best, last, top, strict=True)
        ]
    return [
        f"bought with {pid[b]}, which you bought {_times(int(d))}" if t > 0 else None
        for b, d, t in zip(best, days, top, strict=True)
    ]


def explain(it: Interactions, gens: dict[str, Generator], recs: pd.DataFrame) -> np.ndarray:
    """One sentence per row of `recs` (columns cust, item and the candidate features)."""
    n = recs.n_days.to_numpy()
    cycle, since = recs.cycle.to_numpy(), recs.days_since.to_numpy()
    out = np.full(len(recs), "popular in the last 30 days", dtype=object)
    inf = pd.Series(np.full(len(recs), np.inf), index=recs.index)
    rank = {g: recs.get(f"{g}_rank", inf).to_numpy() for g in ("cooccurrence", "basket", "als")}
    pr = recs.get("popularity_rank", inf).to_numpy()
    out[rank["als"] < pr] = "customers who buy what you buy also buy this"
    for g in ("cooccurrence", "basket"):
        gen = gens.get(g)
        others = [rank[o] for o in rank if o != g]
        pick = (n == 0) & (rank[g] <= np.minimum(np.minimum(*others), pr))
        if isinstance(gen, CoOccurrence) and pick.any():
            idx = np.flatnonzero(pick)
            why = _bought_with(it, gen, recs.cust.to_numpy()[idx], recs.item.to_numpy()[idx])
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


#: the kinds of reason `explain` writes, by how their sentences start
REASON_KINDS = {
    "you buy this every": "due again (own cycle)",
    "you bought this once": "bought once before",
    "bought with": "bought with your products",
    "often in the same basket": "bought with your products",
    "customers who buy": "similar customers (ALS)",
    "popular": "popular now",
    "new customer": "new customer",
}


def reason_kind(reason: str) -> str:
    """The kind of a reason sentence (REASON_KINDS), "other" for one it does not know."""
    for start, kind in REASON_KINDS.items():
        if reason.startswith(start):
            return kind
    return "other"
