"""Top-k metrics of recommendations against what customers bought next.

``recall@k`` = hits in the top k / min(k, products bought); ``NDCG@k`` with binary gains
(log2 discounts, ideal = min(k, products bought) hits first); ``coverage`` = distinct
products recommended / products in the catalogue. Customers with nothing to find are left
out of recall and NDCG (they have no truth), as is usual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["per_customer", "summarise"]


def per_customer(recs: pd.DataFrame, truth: pd.DataFrame, *, k: int) -> pd.DataFrame:
    """Recall and NDCG at k per customer with a non-empty truth.

    recs: customer_id, rank (1 = best), product_id; truth: customer_id, product_id.
    """
    top = recs[recs["rank"] <= k]
    n_true = truth.groupby("customer_id").size().rename("n_true")
    hits = top.merge(truth.assign(hit=1), on=["customer_id", "product_id"], how="left")
    hits["gain"] = hits.hit.fillna(0) / np.log2(hits["rank"] + 1.0)
    got = hits.groupby("customer_id").agg(hits=("hit", "sum"), dcg=("gain", "sum"))
    out = n_true.to_frame().join(got, how="left").fillna(0.0)
    ideal_n = np.minimum(out.n_true.to_numpy(), k).astype(int)
    disc = np.concatenate([[0.0], np.cumsum(1 / np.log2(np.arange(2, k + 2)))])
    out["recall"] = out.hits / ideal_n
    out["ndcg"] = out.dcg / disc[ideal_n]
    return out[["n_true", "hits", "recall", "ndcg"]]


def summarise(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int,
    n_items: int,
    n_boot: int = 200,
    seed: int = 0,
    pc: pd.DataFrame | None = None,
) -> dict[str, float]:
    """recall@k and NDCG@k (means over customers with a truth, 95 % bootstrap interval over
    customers) and coverage; customers with a truth but no recommendation count as misses.
    `pc`: `per_customer(recs, truth, k=k)` when the caller has it already."""
    pc = per_customer(recs, truth, k=k) if pc is None else pc
    out: dict[str, float] = {"customers": float(len(pc))}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(pc), (n_boot, len(pc))) if n_boot and len(pc) else None
    for name in ("recall", "ndcg"):
        v = pc[name].to_numpy()
        out[f"{name}@{k}"] = float(v.mean()) if len(v) else float("nan")
        if idx is not None:
            boots = v[idx].mean(axis=1)
            out[f"{name}@{k}_lo"], out[f"{name}@{k}_hi"] = map(
                float, np.quantile(boots, [0.025, 0.975])
            )
    top = recs[recs["rank"] <= k]
    out["coverage"] = float(top.product_id.nunique() / max(1, n_items))
    return out
