"""Recommendation parts: group ranks against pandas, the neighbour cut, labels in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import customer_ml as cm
from customer_ml.config import CleaningConfig
from customer_ml.recs.candidates import _keep_top
from customer_ml.recs.features import group_order
from customer_ml.recs.history import History
from customer_ml.recs.interactions import day_number
from customer_ml.recs.synthetic import generate_baskets


def test_group_ranks_match_pandas_min_ranks() -> None:
    rng = np.random.default_rng(0)
    cust = np.sort(rng.integers(0, 50, 2000))
    score = rng.integers(0, 5, 2000).astype(float)
    order, _, rank = group_order(cust, score)
    mine = np.empty(len(cust))
    mine[order] = rank
    ref = pd.Series(score).groupby(cust).rank(ascending=False, method="min").to_numpy()
    np.testing.assert_array_equal(mine, ref)


def test_keep_top_keeps_each_rows_largest() -> None:
    m = sp.random(300, 400, density=0.3, random_state=1, format="csr")
    kept, dense = _keep_top(m, 5, block=64).toarray(), m.toarray()
    for r in range(300):
        want = np.sort(dense[r][dense[r] > 0])[::-1][:5]
        np.testing.assert_allclose(np.sort(kept[r][kept[r] > 0])[::-1], want)


def test_history_labels_only_the_horizon_after_the_cut() -> None:
    tx = generate_baskets(200, n_groups=3, products_per_group=10, days=300, seed=1)[0]
    data = cm.from_frames(tx, cleaning=CleaningConfig(merge_same_day=False))
    as_of = tx.ts.max().normalize()
    h = History(data, as_of=as_of, horizon_days=60)
    cut = day_number(as_of) - 60
    fut = h.future(cut, task="all")
    day = (tx.ts.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    window = tx[(day > cut) & (day <= cut + 60)]
    known = set(tx[day <= cut].customer_id)
    want = set(zip(window.customer_id, window.product_id, strict=True))
    want = {p for p in want if p[0] in known}
    assert set(zip(fut.customer_id, fut.product_id, strict=True)) == want
    new = h.future(cut, task="new")
    had = set(zip(tx[day <= cut].customer_id, tx[day <= cut].product_id, strict=True))
    assert not set(zip(new.customer_id, new.product_id, strict=True)) & had
    with pytest.raises(ValueError, match="after the history's date"):
        h.future(cut + 1, task="all")
    assert h.interactions(cut).pairs.last_day.max() <= cut
