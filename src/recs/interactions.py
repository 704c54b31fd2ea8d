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
from customer_ml.data.io import fetch_frame
from customer_ml.errors import DataError
from customer_ml.features.timing import cutoff

__all__ = [
    "Interactions",
    "day_number",
    "from_events",
    "future_purchases",
    "interactions",
    "purchase_days",
    "require_products",
]

PRODUCT_KEY = "data.transactions.columns.product_id"
EPOCH = pd.Timestamp("1970-01-01")


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

    ``pairs`` holds ``cust, item, n_days, first_day, last_day`` (days since the epoch);
    ``events`` one row per ``cust, item, day`` bought; ``customers`` maps codes to
    ``customer_id``; ``items`` maps codes to ``product_id`` and ``category``; ``day`` is the
    calendar day of `as_of`.
    """

    pairs: pd.DataFrame
    events: pd.DataFrame
    customers: pd.Index  # customer_id by code
    items: pd.DataFrame  # product_id, category, by code
    day: int  # as_of's day number (days since 1970-01-01)

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

    def item_days(self, start: int, end: int | None = None) -> np.ndarray:
        """Per item: customer-days bought in days ``(day - start, day - end]`` (end 0 = as_of)."""
        e = self.events
        age = self.day - e.day.to_numpy()
        keep = (age < start) & (age >= (end or 0))
        return np.bincount(e.item.to_numpy()[keep], minlength=self.n_items).astype(np.float32)


def day_number(as_of: str | dt.date | pd.Timestamp) -> int:
    """The calendar day of `as_of` as days since 1970-01-01."""
    return (pd.Timestamp(cutoff(as_of).day) - EPOCH).days


def purchase_days(data: Dataset, *, as_of: str | dt.date | pd.Timestamp) -> pd.DataFrame:
    """Distinct customer_id, product_id, day (days since the epoch), category bought with
    ts <= as_of (returns and rows without a product are not purchases)."""
    require_products(data)
    end = cutoff(as_of).sql_end()
    cat = "category" if "category" in data.tx_columns else "NULL::VARCHAR"
    return fetch_frame(
        data.con,
        f"""
        SELECT customer_id, CAST(product_id AS VARCHAR) AS product_id,
               CAST(CAST(ts AS DATE) - DATE '1970-01-01' AS INTEGER) AS day,
               any_value({cat}) AS category
        FROM transactions
        WHERE ts <= {end} AND NOT is_return AND product_id IS NOT NULL
        GROUP BY 1, 2, 3
        """,
    )


def from_events(
    frame: pd.DataFrame, *, day: int, items: pd.DataFrame | None = None
) -> Interactions:
    """Interactions from purchase days (customer_id, product_id, day[, category]) up to `day`.

    With `items` (a fitted catalogue: product_id, category) products keep its codes and
    products outside it are dropped; otherwise the catalogue is the products in `frame`.
    """
    frame = frame[frame.day.to_numpy() <= day]
    if items is None:
        item = pd.Categorical(frame.product_id)
        cats = frame.get("category", pd.Series(None, index=frame.index, dtype="str"))
        items = (
            pd.DataFrame({"item": item.codes, "category": cats.to_numpy()})
            .groupby("item", sort=True)["category"]
            .first()
            .reset_index(drop=True)
            .to_frame()
        )
        items.insert(0, "product_id", pd.Index(item.categories, dtype="str"))
        codes = item.codes
    else:
        codes = pd.Index(items.product_id).get_indexer(frame.product_id.astype("str"))
        frame, codes = frame[codes >= 0], codes[codes >= 0]
    cust = pd.Categorical(frame.customer_id.astype("str"))
    events = pd.DataFrame(
        {
            "cust": cust.codes.astype(np.int32),
            "item": np.asarray(codes, np.int32),
            "day": frame.day.to_numpy(np.int32),
        }
    ).drop_duplicates()
    pairs = (
        events.groupby(["cust", "item"], sort=True)
        .day.agg(n_days="size", first_day="min", last_day="max")
        .reset_index()
        .astype(np.int32)
    )
    return Interactions(
        pairs=pairs,
        events=events.reset_index(drop=True),
        customers=pd.Index(cust.categories, dtype="str", name="customer_id"),
        items=items.reset_index(drop=True),
        day=day,
    )


def interactions(data: Dataset, *, as_of: str | dt.date | pd.Timestamp) -> Interactions:
    """Who bought what, and on which days, up to `as_of` (rows with ts <= as_of only)."""
    frame = purchase_days(data, as_of=as_of)
    if frame.empty:
        raise DataError(f"no purchases with a product_id at or before {as_of}")
    return from_events(frame, day=day_number(as_of))


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
