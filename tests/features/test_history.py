"""The history's row flags, computed by chunk in numpy, equal the window SQL the Spark engine
runs (one window per flag), on data made to hit every case: returns, orders whose rows are
interleaved with other orders, rows without an order id, NULL products and categories, ties
in time, merged and unmerged same-day rows, no order ids at all and no amount."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_ml.config import CleaningConfig
from customer_ml.data.load import from_frames
from customer_ml.features import history
from customer_ml.features.history import (
    CUSTOMERS,
    ORDER,
    derived_columns,
    prepare_history,
    purchase_unit,
)


def messy(n_customers: int = 400, seed: int = 3, *, interleaved: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_customers * 12
    cust = rng.integers(0, n_customers, n)
    # few distinct timestamps per customer: ties in time are common
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 40, n) * 6, unit="h")
    # order ids reused across days and interleaved; some rows without one
    if not interleaved:  # one order per customer and time: every order is one run of rows
        order = np.array([f"o{c}-{t}" for c, t in zip(cust, ts, strict=True)], dtype=object)
        order[rng.random(n) < 0.1] = None
    else:
        order = np.where(
            rng.random(n) < 0.1,
            None,
            [f"o{c}-{k}" for c, k in zip(cust, rng.integers(0, 6, n), strict=True)],
        )
    quantity = np.where(rng.random(n) < 0.12, -1, rng.integers(1, 4, n))
    return pd.DataFrame(
        {
            "customer_id": [f"c{c:04d}" for c in cust],
            "ts": ts,
            "order_id": order,
            "product_id": np.where(
                rng.random(n) < 0.05, None, rng.choice([f"p{i}" for i in range(30)], n)
            ),
            "category": np.where(rng.random(n) < 0.05, None, rng.choice(["a", "b", "c", "d"], n)),
            "quantity": quantity,
            "amount": np.round(rng.gamma(2.0, 15.0, n), 2) * np.sign(quantity),
        }
    )


def window_flags(data) -> pd.DataFrame:
    """The flags by the window SQL, keyed by the customer and the row's order in time."""
    cols = set(data.tx_columns)
    unit = purchase_unit(cols, merge_same_day=data.merge_same_day)
    extra = f", {ORDER}" if "order_id" in cols else ""
    return data.con.execute(
        f"""SELECT cust, row_number() OVER (PARTITION BY cust ORDER BY ts, _r) AS k,
               {", ".join(derived_columns(cols, unit))}
        FROM (SELECT *, CAST(ts AS DATE) AS day{extra}
              FROM (SELECT *, rowid AS _r FROM transactions) JOIN {CUSTOMERS} USING (customer_id))
        WINDOW wp AS (PARTITION BY customer_id, is_return ORDER BY ts, _r)
        ORDER BY cust, k"""
    ).df()


@pytest.mark.parametrize(
    ("drop", "merge", "interleaved"),
    [
        ((), False, True),
        ((), False, False),
        ((), True, True),
        (("order_id",), False, True),
        (("amount",), False, False),
        (("order_id", "category", "product_id"), True, True),
    ],
)
@pytest.mark.parametrize("chunk", [10**9, 500])
def test_flags_equal_the_window_sql(drop, merge, interleaved, chunk, monkeypatch) -> None:
    monkeypatch.setattr(history, "CHUNK_ROWS", chunk)
    tx = messy(interleaved=interleaved).drop(columns=list(drop))
    data = from_frames(
        tx, cleaning=CleaningConfig(returns="keep", merge_same_day=merge, drop_duplicates=False)
    )
    assert data.con.execute("SELECT count(*) FROM transactions WHERE is_return").fetchone()[0] > 0
    table = prepare_history(data)
    want = window_flags(data)
    got = data.con.execute(f"SELECT * FROM {table}").df()
    assert len(got) == len(want) == len(tx)
    assert (np.diff(got["cust"].to_numpy().astype(np.int64)) >= 0).all()
    flags = [c for c in want.columns if c not in ("cust", "k")]
    assert set(flags) <= set(got.columns)
    assert (got["cust"].to_numpy() == want["cust"].to_numpy()).all()
    for c in flags:
        if c == "amount_sq":
            np.testing.assert_allclose(got[c], want[c], rtol=1e-9, atol=1e-6, err_msg=c)
        elif c == "gap":
            assert got[c].isna().equals(want[c].isna()), c
            assert (got[c].dropna().to_numpy() == want[c].dropna().to_numpy()).all(), c
        else:
            assert (got[c].to_numpy(dtype=bool) == want[c].to_numpy(dtype=bool)).all(), c
    # the ordering is the history's promise: customer, then time
    ts = got["ts"].to_numpy()
    same = got["cust"].to_numpy()[1:] == got["cust"].to_numpy()[:-1]
    assert (ts[1:][same] >= ts[:-1][same]).all()
