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

A row without an order id is an order of its own. The order and product ids themselves are
not in the history (its flags stand for them), nor are the customer id, the category and the
channel (their codes are); the other columns of ``transactions`` are.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from customer_ml.data.dataset import Dataset
from customer_ml.data.io import fetch_one
from customer_ml.features.rowflags import purchase_flags

__all__ = [
    "CUSTOMERS",
    "HISTORY",
    "ORDER",
    "PASSTHROUGH",
    "codes",
    "derived_columns",
    "prepare_history",
    "purchase_unit",
    "with_ids",
]

HISTORY = "history"
CUSTOMERS = "history_customers"  # (customer_id, cust): cust from 0, in customer_id order
_CODED = {"category": "history_categories", "channel": "history_channels"}  # codes from 1


# a row without an order id is an order of its own (DuckDB and Spark SQL)
ORDER = "coalesce(CAST(order_id AS STRING), chr(0) || CAST(_r AS STRING)) AS _order"
PASSTHROUGH = ("amount", "quantity", "order_id", "product_id", "category", "channel")
# the sorted rows' stand-ins for the order and product ids: 64-bit hashes (NULL stays NULL);
# two ids of one customer with the same hash would count as one (odds about k^2 / 2^65 for a
# customer of k orders or products)
_HASHED = {
    "order_id": ("_order_hash", "CASE WHEN order_id IS NOT NULL THEN hash(order_id) END"),
    "product_id": ("_product_hash", "CASE WHEN product_id IS NOT NULL THEN hash(product_id) END"),
}


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


def codes(data: Dataset, column: str) -> dict[str, int]:
    """Each `column` value's code in the history (after `prepare_history`)."""
    rows = data.con.execute(
        f"SELECT CAST({column} AS VARCHAR), {column}_code FROM {_CODED[column]}"
    ).fetchall()
    return {str(value): int(code) for value, code in rows}


def with_ids(sql: str) -> str:
    """`sql`, whose rows name customers by their number ``cust``, with ``customer_id`` in its
    place (the ids join the result, which is smaller than the history it came from)."""
    return f"SELECT customer_id, r.* EXCLUDE (cust) FROM ({sql}) r JOIN {CUSTOMERS} USING (cust)"


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
    """Create view ``history`` from ``transactions`` (once per Dataset); return its name.

    One sort by customer and time; the row flags are then computed by chunk of customers
    (:mod:`customer_ml.features.rowflags` and hash aggregates for the first rows of each
    order, product and category), so memory stays bounded by the chunk, not the history.
    """
    if data.history_ready and _exists(data):
        return HISTORY
    cols = set(data.tx_columns)
    extra = f", {ORDER}" if "order_id" in cols else ""
    unit = purchase_unit(cols, merge_same_day=data.merge_same_day)
    # order and product ids only for their first rows: as 64-bit hashes, not text, so the
    # sort carries 8 bytes a row for each and the first rows are grouped on integers
    # (the category and channel as their codes only: text in a sort costs more than integers)
    passthrough = [c for c in PASSTHROUGH if c in cols and c not in _HASHED and c not in _CODED]
    hashed = [f"{sql} AS {name}" for c, (name, sql) in _HASHED.items() if c in cols]
    coded = [c for c in _CODED if c in cols]
    _create_codes(data, coded)
    codes = [f"coalesce({c}_code, 0) AS {c}_code" for c in coded]
    joins = " ".join(f"LEFT JOIN {_CODED[c]} USING ({c})" for c in coded)
    # the customer as its number only (``history_customers`` holds the ids)
    keep = ", ".join(["cust", "ts", "day", *passthrough, *codes, *hashed, "is_return"])
    key = {"day": "day", "_order": "hash(_order)", "_r": "NULL"}[unit]
    data.con.execute(
        f"""CREATE OR REPLACE TABLE {_SORTED} AS
        SELECT {keep}, CAST(isodow(day) AS TINYINT) AS dow, {key} AS _unit
        FROM (SELECT *, CAST(ts AS DATE) AS day{extra}
              FROM (SELECT *, rowid AS _r FROM transactions) JOIN {CUSTOMERS} USING (customer_id)
              {joins})
        ORDER BY cust, ts, _r"""
    )
    data.con.execute(f"DROP VIEW IF EXISTS {HISTORY}")
    try:
        _write_flags(data, cols, unit)
    except BaseException:
        data.con.execute(f"DROP TABLE IF EXISTS {_SORTED}")
        data.con.execute(f"DROP TABLE IF EXISTS {_FLAGS}")
        raise
    # a view: the rows and their flags side by side, in the same order (no copy of either)
    flags = ", ".join(f"_f.{n}" for n in _flag_names(cols))
    internal = ", ".join(["_unit", *(n for c, (n, _) in _HASHED.items() if c in cols)])
    data.con.execute(
        f"""CREATE VIEW {HISTORY} AS SELECT s.* EXCLUDE ({internal}), {flags}
        FROM {_SORTED} AS s POSITIONAL JOIN {_FLAGS} AS _f"""
    )
    data.history_ready = True
    return HISTORY


_SORTED = "history_rows"  # the rows in history order, with the purchase unit's key
_FLAGS = "history_flags"  # their flags, row for row
CHUNK_ROWS = 4_000_000  # rows per chunk of customers whose flags are computed together


def _flag_names(cols: set[str]) -> list[str]:
    """The flag columns, in the order of :func:`derived_columns`."""
    names = ["new_purchase", "gap", "first_purchase"]
    names += ["amount_sq"] if "amount" in cols else []
    names += ["new_order"] if "order_id" in cols else []
    pairs = (("product_id", "new_product"), ("category", "new_category"))
    return names + [n for c, n in pairs if c in cols]


def _chunks(data: Dataset) -> list[tuple[int, int, int]]:
    """(first customer, end customer, first row) of chunks of about CHUNK_ROWS rows."""
    counts = data.con.execute(
        f"SELECT count(*) AS n FROM {_SORTED} GROUP BY cust ORDER BY cust"
    ).fetchnumpy()["n"]
    ends = np.cumsum(counts)
    out: list[tuple[int, int, int]] = []
    first = 0
    while first < len(counts):
        row = int(ends[first - 1]) if first else 0
        end = int(np.searchsorted(ends, row + CHUNK_ROWS, side="right"))
        end = max(end, first + 1)
        out.append((first, end, row))
        first = end
    return out


def _firsts(data: Dataset, where: str, by: str, row: int, n: int) -> np.ndarray:
    """Flag, per row of the chunk, the first row of each (customer, `by`) group."""
    pos = data.con.execute(
        f"SELECT min(rowid) AS p FROM {_SORTED} WHERE {where} GROUP BY cust, {by}"
    ).fetchnumpy()["p"]
    flag = np.zeros(n, dtype=bool)
    flag[np.asarray(pos, dtype=np.int64) - row] = True
    return flag


def _write_flags(data: Dataset, cols: set[str], unit: str) -> None:
    """Table ``history_flags``: the flags of ``history_rows``, row for row."""
    con = data.con
    fetch = ["cust", "is_return", "CAST(day - DATE '1970-01-01' AS INTEGER) AS day"]
    fetch += ["_unit"] if unit != "_r" else []
    fetch += ["amount"] if "amount" in cols else []
    fetch += ["_order_hash IS NULL AS no_order"] if "order_id" in cols else []
    for k, (lo, hi, row) in enumerate(_chunks(data)):
        where = f"cust >= {lo} AND cust < {hi}"
        arrays = con.execute(f"SELECT {', '.join(fetch)} FROM {_SORTED} WHERE {where}").fetchnumpy()
        n = len(arrays["cust"])
        is_return = np.asarray(arrays["is_return"], dtype=bool)
        firsts: dict[str, np.ndarray] = {}
        if "order_id" in cols:
            # a row without an order id is an order of its own
            firsts["new_order"] = _firsts(
                data,
                f"{where} AND NOT is_return AND _order_hash IS NOT NULL",
                "_order_hash",
                row,
                n,
            ) | (np.asarray(arrays["no_order"], dtype=bool) & ~is_return)
        # (category code 0 is a NULL category: a group of its own, as NULL is in SQL)
        for c, by, name in (
            ("product_id", "_product_hash", "new_product"),
            ("category", "category_code", "new_category"),
        ):
            if c in cols:
                firsts[name] = _firsts(data, where, by, row, n)
        flags = purchase_flags(
            np.asarray(arrays["cust"]),
            is_return,
            np.asarray(arrays["day"]),
            np.asarray(arrays["_unit"]) if unit != "_r" else None,
            np.asarray(arrays["amount"], dtype=np.float64) if "amount" in cols else None,
            _groups(data, unit, where, firsts.get("new_order")),
        )
        flags.update(firsts)
        gap = flags["gap"]
        table = pa.table(
            {
                name: pa.array(gap, mask=gap < 0) if name == "gap" else flags[name]
                for name in _flag_names(cols)
            }
        )
        con.register("_flags_chunk", table)
        try:
            verb = f"CREATE OR REPLACE TABLE {_FLAGS} AS" if k == 0 else f"INSERT INTO {_FLAGS}"
            con.execute(f"{verb} SELECT * FROM _flags_chunk")
        finally:
            con.unregister("_flags_chunk")


def _groups(
    data: Dataset, unit: str, where: str, new_order: np.ndarray | None
) -> tuple[int | None, int | None]:
    """Distinct (customer, unit) groups among the chunk's purchases and returns, None where
    each is known to be one run of rows (days, as rows are in time order)."""
    if unit != "_order" or new_order is None:
        return None, None
    returns = fetch_one(
        data.con,
        f"SELECT count(*) FROM (SELECT DISTINCT cust, _unit FROM {_SORTED} "
        f"WHERE {where} AND is_return)",
    )
    return int(new_order.sum()), int(returns[0])


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
