"""A second synthetic generator, independent of `customer_ml.data.synthetic`, for tests that
must not grade the product on the data model it was built around.

Where the built-in generator draws BG/NBD-style customers (Poisson purchases, a dropout coin
after each, Gamma order values, near-equal segment shares), this one draws renewal processes:
gaps between purchases are log-normal around a group's typical gap (so buying is regular, not
memoryless), each customer has an exponential lifetime (Pareto/NBD-style churn in calendar
time), order values are log-normal, and the groups are of very unequal size. Groups also differ
in their category mix and channel. Customers arrive uniformly over the first half of the span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["GROUPS", "Group", "renewal_customers"]

CATEGORIES = ("garden", "kitchen", "sport", "beauty", "media")
CHANNELS = ("online", "shop")


@dataclass(frozen=True)
class Group:
    name: str
    share: float
    gap_days: float  # median days between purchases
    lifetime_days: float  # mean of the exponential lifetime
    order_value: float  # median order value
    categories: tuple[float, ...]
    online: float  # probability that an order is placed online


GROUPS = (
    Group("steady small baskets", 0.46, 12.0, 900.0, 14.0, (0.1, 0.6, 0.1, 0.15, 0.05), 0.8),
    Group("monthly mid spenders", 0.27, 35.0, 700.0, 60.0, (0.15, 0.1, 0.55, 0.1, 0.1), 0.3),
    Group("rare big tickets", 0.17, 150.0, 2000.0, 400.0, (0.7, 0.1, 0.1, 0.0, 0.1), 0.5),
    Group("short-lived samplers", 0.10, 20.0, 40.0, 25.0, (0.05, 0.05, 0.1, 0.3, 0.5), 0.9),
)


def renewal_customers(
    n_customers: int, *, days: int = 540, seed: int = 0, groups: tuple[Group, ...] = GROUPS
) -> tuple[pd.DataFrame, pd.Series]:
    """Transactions (customer_id, ts, amount, quantity, order_id, category, channel) from
    2022-01-01 over `days`, and each customer's planted group (index customer_id)."""
    rng = np.random.default_rng(seed)
    shares = np.array([g.share for g in groups])
    group = rng.choice(len(groups), n_customers, p=shares / shares.sum())
    start = pd.Timestamp("2022-01-01")
    rows: list[tuple[int, float, int]] = []  # (customer, day, group)
    for i, g in enumerate(group):
        spec = groups[g]
        t = rng.uniform(0, days / 2)
        end = min(days, t + rng.exponential(spec.lifetime_days))
        # each customer's own typical gap: the group's, times a log-normal factor
        gap = spec.gap_days * np.exp(rng.normal(0, 0.25))
        while t < end:
            rows.append((i, t, g))
            t += gap * np.exp(rng.normal(0, 0.35))
    cust, day, grp = (np.array(v) for v in zip(*rows, strict=True))
    value = np.array([groups[g].order_value for g in grp]) * np.exp(rng.normal(0, 0.4, len(grp)))
    cat = np.array([rng.choice(len(CATEGORIES), p=groups[g].categories) for g in grp])
    online = rng.random(len(grp)) < np.array([groups[g].online for g in grp])
    ids = np.array([f"r{i:05d}" for i in range(n_customers)])
    tx = pd.DataFrame(
        {
            "customer_id": ids[cust],
            "ts": start + pd.to_timedelta(day * 86400.0, unit="s").round("s"),
            "amount": np.round(value, 2),
            "quantity": 1 + rng.poisson(np.log1p(value)),
            "order_id": np.arange(1, len(cust) + 1),
            "category": np.array(CATEGORIES)[cat],
            "channel": np.where(online, CHANNELS[0], CHANNELS[1]),
        }
    )
    truth = pd.Series(group, index=pd.Index(ids, name="customer_id"), name="group")
    return tx.sort_values("ts", kind="stable").reset_index(drop=True), truth
