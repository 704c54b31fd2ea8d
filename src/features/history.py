"""The transactions once more, ordered by customer and time, with backward-looking row flags.

Snapshots at many dates (training frames, backtest origins, scoring) read this table instead
of the raw transactions, so that one pass of single-key aggregation gives the whole behaviour
vector: no per-snapshot sort, window or ``count(DISTINCT ...)``. Every derived column of a row
depends only on that row and the same customer's earlier rows (or rows with the same
timestamp), so filtering ``ts <= as_of`` and aggregating is exactly the as-of computation,
also for an `as_of` in the middle of a day. The flags are

- ``new_purchase``: the row opens a purchase (a customer-day when same-day rows are merged,
  the BTYD convention; else an order, or a row); returns never do;
- ``gap``: on rows that open a purchase, days since the customer's previous purchase;
- ``first_purchase``: the row belongs to the customer's first purchase;
- ``amount_sq``: this row's increment of the squared purchase amount (``(c + a)^2 - c^2``
  with ``c`` the purchase's running amount before the row), so that summing it over rows gives
  the sum of squared purchase amounts;
- ``new_order``, ``new_product``, ``new_category``: first row of that value for the customer
  (returns excluded for orders), so counting them is ``count(DISTINCT ...)``;
- ``cust``, ``category_code``, ``channel_code``: integer codes of the customer id (its rank,
  from 0, so ascending in history order), the category and the channel (ranks from 1; 0 is
  NULL), looked up in the tables ``history_customers``, ``history_categories`` and
  ``history_channels``. Reading integers instead of text makes each snapshot's scan cheaper.

A row without an order id is an order of its own.
"""

from __future__ import annotations

from customer_ml.data.dataset import Dataset
from customer_ml.data.io import fetch_one

__all__ = [
    "CUSTOMERS",
    "HISTORY",
    "ORDER",
    "PASSTHROUGH",
    "derived_columns",
    "dictionary",
    "prepare_history",
    "purchase_unit",
]

HISTORY = "history"
CUSTOMERS = "history_customers"  # (customer_id, cust): cust from 0, in customer_id order
_CODED = {"category": "history_categories", "channel": "history_channels"}  # codes from 1


# a row without an order id is an order of its own (DuckDB and Spark SQL)
ORDER = "coalesce(CAST(order_id AS STRING), chr(0) || CAST(_r AS STRING)) AS _order"
PASSTHROUGH = ("amount", "quantity", "order_id", "product_id", "category", "channel")


def purchase_unit(cols: set[str], *, merge_same_day: bool) -> str:
    """The column whose change opens a purchase: the day (same-day rows merged), else the
    order, else the row."""
    if merge_same_day:
        return "day"
    return "_order" if "order_id" in cols else "_r"


def derived_columns(cols: set[str], unit: str) -> list[str]:
    """The row flags of the module docstring as SQL over window ``wp`` (PARTITION BY
    customer_id, is_return ORDER BY ts, _r); portable SQL that DuckDB and Spark both run,
    given an integer or date ``day``, the row order ``_r`` and ``_order`` with order ids."""
    opens = f"NOT is_return AND lag({unit}) OVER wp IS DISTINCT FROM {unit}"
    derived = [
        f"{opens} AS new_purchase",
        f"CASE WHEN {opens} THEN day - lag(day) OVER wp END AS gap",
        f"NOT is_return AND {unit} = first_value({unit}) OVER wp AS first_purchase",
    ]
    if "amount" in cols:
        derived.append(
            "amount * (2 * coalesce(sum(amount) OVER (PARTITION BY customer_id, is_return, "
            f"{unit} ORDER BY ts, _r ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) "
            "+ amount) AS amount_sq"
        )
    if "order_id" in cols:
        derived.append(_first("_order", "new_order", purchases_only=True))
    derived += [
        _first(c, n)
        for c, n in (("product_id", "new_product"), ("category", "new_category"))
        if c in cols
    ]
    return derived


def dictionary(column: str) -> str:
    """The table of `column`'s codes in the history: (`column`, ``{column}_code``)."""
    return _CODED[column]


def _first(col: str, name: str, *, purchases_only: bool = False) -> str:
    """Flag the first row of each (customer, `col`) value: counting flags = count(DISTINCT)."""
    if purchases_only:
        return (
            f"NOT is_return AND row_number() OVER (PARTITION BY customer_id, is_return, {col} "
            f"ORDER BY ts, _r) = 1 AS {name}"
        )
    return f"row_number() OVER (PARTITION BY customer_id, {col} ORDER BY ts, _r) = 1 AS {name}"


def _exists(data: Dataset) -> bool:
    row = fetch_one(
        data.con,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
        [HISTORY],
    )
    return bool(row[0])


def prepare_history(data: Dataset) -> str:
    """Create table ``history`` from ``transactions`` (once per Dataset); return its name."""
    if data.history_ready and _exists(data):
        return HISTORY
    cols = set(data.tx_columns)
    extra = f", {ORDER}" if "order_id" in cols else ""
    unit = purchase_unit(cols, merge_same_day=data.merge_same_day)
    passthrough = [c for c in PASSTHROUGH if c in cols]
    derived = derived_columns(cols, unit)
    coded = [c for c in _CODED if c in cols]
    _create_codes(data, coded)
    codes = [f"coalesce({c}_code, 0) AS {c}_code" for c in coded]
    joins = " ".join(f"LEFT JOIN {_CODED[c]} USING ({c})" for c in coded)
    keep = ", ".join(["cust", "customer_id", "ts", "day", *passthrough, *codes, "is_return"])
    data.con.execute(
        f"""CREATE OR REPLACE TABLE {HISTORY} AS
        SELECT {keep}, CAST(isodow(day) AS TINYINT) AS dow, {", ".join(derived)}
        FROM (SELECT *, CAST(ts AS DATE) AS day{extra}
              FROM (SELECT *, rowid AS _r FROM transactions) JOIN {CUSTOMERS} USING (customer_id)
              {joins})
        WINDOW wp AS (PARTITION BY customer_id, is_return ORDER BY ts, _r)
        ORDER BY customer_id, ts, _r"""
    )
    data.history_ready = True
    return HISTORY


def _create_codes(data: Dataset, coded: list[str]) -> None:
    """The customer numbers and the category and channel codes (small tables)."""
    data.con.execute(
        f"""CREATE OR REPLACE TABLE {CUSTOMERS} AS
        SELECT customer_id, CAST(row_number() OVER (ORDER BY customer_id) - 1 AS UINTEGER) AS cust
        FROM (SELECT DISTINCT customer_id FROM transactions) ORDER BY cust"""
    )
    for c in coded:
        data.con.execute(
            f"""CREATE OR REPLACE TABLE {_CODED[c]} AS
            SELECT {c}, CAST(row_number() OVER (ORDER BY {c}) AS UINTEGER) AS {c}_code
            FROM (SELECT DISTINCT {c} FROM transactions WHERE {c} IS NOT NULL)"""
        )
