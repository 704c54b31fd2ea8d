"""Customer x product purchase history as of a date, and what was bought after it.

Every function here reads rows with ``ts <= as_of`` only (history) or rows in
``(as_of, as_of + horizon_days]`` only (the judged future); returns are never purchases.
A product counts once per customer-day, so a basket of six identical rows is one purchase.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from customer_ml.data.dataset import Dataset
from customer_ml.data.io import DataError, fetch_frame
from customer_ml.features.timing import cutoff

__all__ = ["Interactions", "future_purchases", "interactions", "require_products"]

PRODUCT_KEY = "data.transactions.columns.product_id"


def require_products(data: Dataset) -> None:
    """Raise a DataError naming the config key when the transactions have no product_id."""
    if "product_id" not in data.tx_columns:
        raise DataError(
            f"recommendations need products: map {PRODUCT_KEY} to the product column of the "
            "transactions file"
        )


@dataclass
class Interactions:
    """One row per (customer, product) bought up to `as_of`, with integer codes.

    ``pairs`` holds ``cust, item, n_days, first_day, last_day`` (days since the epoch) and,
    per customer, ``customer_id``; ``items`` maps codes to ``product_id`` (and ``category``);
    ``day`` is the calendar day of `as_of`.
    """

    pairs: pd.DataFrame
    customers: pd.Index  # customer_id by code
    items: pd.DataFrame  # product_id, category, by code
    day: int  # as_of's day number (days since 1970-01-01)
    recent: np.ndarray  # per item: customer-days bought in the recent window

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def matrix(self, weight: str = "n_days") -> sp.csr_matrix:
        """Customers x items (CSR) of `weight` (n_days by default); built once, do not modify."""
        cache = self.__dict__.setdefault("_matrices", {})
        if weight not in cache:
            p = self.pairs
            cache[weight] = sp.csr_matrix(
                (p[weight].to_numpy(np.float32), (p.cust.to_numpy(), p.item.to_numpy())),
                shape=(self.n_customers, self.n_items),
            )
        return cache[weight]


def _day(as_of: str | dt.date | pd.Timestamp) -> tuple[str, int]:
    c = cutoff(as_of)
    return c.sql_end(), (pd.Timestamp(c.day) - pd.Timestamp("1970-01-01")).days


def interactions(
    data: Dataset, *, as_of: str | dt.date | pd.Timestamp, recent_days: int = 30
) -> Interactions:
    """Who bought what up to `as_of` (rows with ts <= as_of only).

    `recent_days` sets the popularity window: customer-days per product in the last
    `recent_days` days up to `as_of`.
    """
    require_products(data)
    end, day = _day(as_of)
    cat = "category" if "category" in data.tx_columns else "NULL::VARCHAR"
    frame = fetch_frame(
        data.con,
        f"""
        WITH d AS (
            SELECT customer_id, CAST(product_id AS VARCHAR) AS product_id,
                   CAST(ts AS DATE) AS day, {cat} AS category
            FROM transactions
            WHERE ts <= {end} AND NOT is_return AND product_id IS NOT NULL)
        SELECT customer_id, product_id, count(DISTINCT day) AS n_days,
               CAST(min(day) - DATE '1970-01-01' AS INTEGER) AS first_day,
               CAST(max(day) - DATE '1970-01-01' AS INTEGER) AS last_day,
               any_value(category) AS category
        FROM d GROUP BY customer_id, product_id
        """,
    )
    if frame.empty:
        raise DataError(f"no purchases with a product_id at or before {as_of}")
    cust = pd.Categorical(frame.customer_id)
    item = pd.Categorical(frame.product_id)
    pairs = pd.DataFrame(
        {
            "cust": cust.codes.astype(np.int32),
            "item": item.codes.astype(np.int32),
            "n_days": frame.n_days.to_numpy(np.int32),
            "first_day": frame.first_day.to_numpy(np.int32),
            "last_day": frame.last_day.to_numpy(np.int32),
        }
    ).sort_values(["cust", "item"], ignore_index=True)
    items = (
        pd.DataFrame({"item": item.codes, "category": frame.category})
        .groupby("item", sort=True)["category"]
        .first()
        .reset_index(drop=True)
        .to_frame()
    )
    items.insert(0, "product_id", pd.Index(item.categories, dtype="str"))
    rec = fetch_frame(
        data.con,
        f"""
        SELECT CAST(product_id AS VARCHAR) AS product_id,
               count(DISTINCT (customer_id, CAST(ts AS DATE))) AS n
        FROM transactions
        WHERE ts <= {end} AND ts > {end} - INTERVAL {int(recent_days)} DAY
              AND NOT is_return AND product_id IS NOT NULL
        GROUP BY 1
        """,
    )
    codes = pd.Index(items.product_id).get_indexer(rec.product_id)
    recent = np.zeros(len(items))
    recent[codes[codes >= 0]] = rec.n.to_numpy(float)[codes >= 0]
    return Interactions(
        pairs=pairs,
        customers=pd.Index(cust.categories, dtype="str", name="customer_id"),
        items=items,
        day=day,
        recent=recent,
    )


def future_purchases(
    data: Dataset, *, as_of: str | dt.date | pd.Timestamp, horizon_days: int
) -> pd.DataFrame:
    """Distinct (customer_id, product_id) bought in (as_of, as_of + horizon_days]."""
    require_products(data)
    c = cutoff(as_of)
    h = c.plus_days(horizon_days)
    return fetch_frame(
        data.con,
        f"""
        SELECT DISTINCT customer_id, CAST(product_id AS VARCHAR) AS product_id
        FROM transactions
        WHERE ts > {c.sql_end()} AND ts <= {h.sql_end()} AND NOT is_return
              AND product_id IS NOT NULL
        """,
    )
