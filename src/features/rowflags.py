"""The history's purchase flags, vectorised over rows sorted by customer and time.

Each flag is what a window over the customer's purchases (or returns) in the order
``(ts, _r)`` gives in SQL (see :func:`customer_ml.features.history.derived_columns`, which
the Spark engine runs): the previous row of the same customer and kind is the previous row
of the same kind in the sorted arrays, so a lag is a shift and a running sum a cumulative
sum restarted at each purchase. One sort then replaces one sort per window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["purchase_flags"]


def _runs(cust: np.ndarray, unit: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(same customer as the row before, row opens a run of equal `unit`); no `unit`: every
    row is a unit of its own."""
    same = np.zeros(len(cust), dtype=bool)
    same[1:] = cust[1:] == cust[:-1]
    if unit is None:
        return same, np.ones(len(cust), dtype=bool)
    opens = ~same
    opens[1:] |= unit[1:] != unit[:-1]
    return same, opens


def _running_before(
    amount: np.ndarray,
    cust: np.ndarray,
    unit: np.ndarray | None,
    opens: np.ndarray,
    groups: int | None,
) -> np.ndarray:
    """Per row, the sum of `amount` over the earlier rows of its (customer, unit) group.

    `groups` is the number of distinct (customer, unit) groups (None: known to be one run
    each, as days are). When it equals the number of runs, every group is one run and a
    cumulative sum restarted at each run is the answer; otherwise (a unit whose rows are
    interleaved with another's) the groups are summed apart.
    """
    if unit is None or len(amount) == 0:
        return np.zeros(len(amount))
    s = pd.Series(amount)
    if groups is not None and groups != int(opens.sum()):
        keys = [pd.Series(cust), pd.Series(unit)]
        return (
            s.groupby(keys, sort=False)
            .cumsum()
            .groupby(keys, sort=False)
            .shift(fill_value=0.0)
            .to_numpy()
        )
    # summed in row order within each run, so a row's value depends on its own group only
    # (bit for bit the same whatever other rows the history holds)
    total = s.groupby(np.cumsum(opens), sort=False).cumsum().to_numpy()
    before = np.empty_like(total)
    before[0] = 0.0
    before[1:] = total[:-1]
    before[opens] = 0.0
    return before


def purchase_flags(
    cust: np.ndarray,
    is_return: np.ndarray,
    day: np.ndarray,
    unit: np.ndarray | None,
    amount: np.ndarray | None,
    groups: tuple[int | None, int | None],
) -> dict[str, np.ndarray]:
    """``new_purchase``, ``gap`` (-1 where NULL), ``first_purchase`` and ``amount_sq``.

    Rows are sorted by customer, then time (ties in row order). `unit` holds the purchase
    unit's key (the day, or a hash of the order); None when every row is a purchase of its
    own. `groups` gives the distinct (customer, unit) groups among purchases and returns
    (None where each group is known to be one run).
    """
    n = len(cust)
    new_purchase = np.zeros(n, dtype=bool)
    first_purchase = np.zeros(n, dtype=bool)
    gap = np.full(n, -1, dtype=np.int64)
    amount_sq = np.zeros(n) if amount is not None else None
    for kind, want in ((0, False), (1, True)):
        idx = np.flatnonzero(is_return == want)
        if len(idx) == 0:
            continue
        c = cust[idx]
        u = unit[idx] if unit is not None else None
        same, opens = _runs(c, u)
        if not want:
            new_purchase[idx] = opens
            d = day[idx].astype(np.int64)
            g = np.zeros(len(idx), dtype=np.int64)
            g[1:] = d[1:] - d[:-1]
            gap[idx] = np.where(opens & same, g, -1)
            if u is None:
                first_purchase[idx] = ~same
            else:
                first = np.flatnonzero(~same)
                first_purchase[idx] = u == u[first][np.cumsum(~same) - 1]
        if amount_sq is not None and amount is not None:
            a = amount[idx]
            before = _running_before(a, c, u, opens, groups[kind])
            amount_sq[idx] = a * (2 * before + a)
    out = {"new_purchase": new_purchase, "gap": gap, "first_purchase": first_purchase}
    if amount_sq is not None:
        out["amount_sq"] = amount_sq
    return out
