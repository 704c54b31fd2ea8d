"""Baskets with planted product affinities, for tests and benchmarks that know the truth.

Each customer has one taste group; a group owns a block of products. A customer keeps a few
staple products bought again on a personal cycle, and otherwise picks products of the group
(mostly) or of the whole catalogue (rarely). So repeat purchases are predictable from the
customer's own history, and new products are predictable from the group: what others with
the same staples buy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["generate_baskets"]


def generate_baskets(
    n_customers: int = 1500,
    *,
    n_groups: int = 8,
    products_per_group: int = 40,
    days: int = 540,
    start: str = "2024-01-01",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """Transactions (customer_id, ts, amount, product_id, category, order_id) and each
    customer's planted group (indexed by customer_id)."""
    rng = np.random.default_rng(seed)
    n_items = n_groups * products_per_group
    group = rng.integers(0, n_groups, n_customers)
    rows: list[tuple[str, int, int, int]] = []
    for c in range(n_customers):
        block = np.arange(group[c] * products_per_group, (group[c] + 1) * products_per_group)
        # within a group, a Zipf-like preference, so co-purchase signal is learnable
        pref = 1.0 / np.arange(1, products_per_group + 1) ** 0.7
        pref = rng.permutation(pref) if rng.random() < 0.3 else pref
        staples = rng.choice(block, 3, replace=False, p=pref / pref.sum())
        cycle = rng.uniform(14, 60)
        first = rng.integers(0, days // 2)
        t = float(first)
        order = 0
        while t < days:
            day = int(t)
            basket = set(rng.choice(staples, rng.integers(1, 3), replace=False).tolist())
            for _ in range(rng.poisson(2)):
                if rng.random() < 0.85:
                    basket.add(int(rng.choice(block, p=pref / pref.sum())))
                else:
                    basket.add(int(rng.integers(0, n_items)))
            rows += [(f"c{c:05d}", day, p, order) for p in basket]
            order += 1
            t += rng.exponential(cycle)
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "item", "order"])
    tx = pd.DataFrame(
        {
            "customer_id": frame.customer_id,
            "ts": pd.Timestamp(start) + pd.to_timedelta(frame.day, unit="D"),
            "amount": 5.0 + (frame.item % 7).astype(float),
            "product_id": "P" + frame.item.astype(str).str.zfill(4),
            "category": "G" + (frame.item // products_per_group).astype(str),
            "order_id": frame.customer_id + "-" + frame.order.astype(str),
        }
    )
    truth = pd.Series(group, index=[f"c{c:05d}" for c in range(n_customers)], name="group")
    return tx, truth
