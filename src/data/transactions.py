"""Transactions: typed, validated and cleaned into the canonical table, every step counted."""

from __future__ import annotations

import duckdb

from customer_ml.config import CleaningConfig, TransactionColumns
from customer_ml.data.dataset import CleaningReport
from customer_ml.data.io import fetch_one, quote
from customer_ml.data.parse import RawTable, amount_expr, id_expr, number_expr, ts_expr
from customer_ml.errors import DataError

__all__ = ["OPTIONAL_TX_COLUMNS", "build_transactions"]

OPTIONAL_TX_COLUMNS = ("amount", "quantity", "order_id", "product_id", "category", "channel")


def _typed_select(
    raw: RawTable,
    types: dict[str, str],
    cols: TransactionColumns,
    *,
    ts_format: str | None,
    decimal: str,
    dedupe_on: list[str],
) -> tuple[str, list[str]]:
    """SELECT that types the raw columns; returns (sql, canonical optional columns present)."""
    parts = [
        f"{raw.row} + 1 AS _row",
        f"{id_expr(cols.customer_id, types[cols.customer_id])} AS customer_id",
        f"{ts_expr(cols.ts, types[cols.ts], ts_format)} AS ts",
    ]
    present: list[str] = []
    amount = amount_expr(cols.amount, cols.unit_price, cols.quantity, types, decimal)
    if amount is not None:
        parts.append(f"{amount} AS amount")
        present.append("amount")
    if cols.quantity:
        parts.append(f"{number_expr(cols.quantity, types[cols.quantity], decimal)} AS quantity")
        present.append("quantity")
    for name in ("order_id", "product_id", "category", "channel"):
        col = getattr(cols, name)
        if col:
            parts.append(f"{id_expr(col, types[col])} AS {name}")
            present.append(name)
    if dedupe_on:
        keys = ", ".join(quote(c) for c in dedupe_on)
        parts.append(f"row_number() OVER (PARTITION BY {keys} ORDER BY {raw.row}) > 1 AS _dup")
    else:
        parts.append("false AS _dup")
    return f"SELECT {', '.join(parts)} FROM {quote(raw.name)}", present


def _raw_text(*columns: str | None) -> str:
    """The original text of the amount's source columns (``price x quantity``)."""
    src = [c for c in columns if c]
    return " || ' x ' || ".join(f"coalesce(CAST({quote(c)} AS VARCHAR), '')" for c in src)


def _is_return(present: list[str], cleaning: CleaningConfig) -> str:
    conds = []
    if cleaning.cancellation_pattern and "order_id" in present:
        pat = cleaning.cancellation_pattern.replace("'", "''")
        conds.append(f"coalesce(regexp_matches(order_id, '{pat}'), false)")
    if "quantity" in present:
        conds.append("coalesce(quantity < 0, false)")
    elif "amount" in present:
        conds.append("coalesce(amount < 0, false)")
    return " OR ".join(conds) if conds else "false"


def _steps(present: list[str], cleaning: CleaningConfig) -> list[tuple[str, str]]:
    steps = [("exact duplicate rows", "_dup"), ("missing customer id", "customer_id IS NULL")]
    if cleaning.drop_bad_timestamps:
        steps.append(("unparseable timestamp", "ts IS NULL"))
    if cleaning.exclude_products and "product_id" in present:
        pat = cleaning.exclude_products.replace("'", "''")
        steps.append(("non-product codes", f"coalesce(regexp_matches(product_id, '{pat}'), false)"))
    if cleaning.returns == "drop":
        steps.append(("returns and cancellations", "is_return"))
    if cleaning.drop_nonpositive_price and "amount" in present:
        steps.append(("zero or negative price", "NOT is_return AND amount <= 0"))
    return steps


def build_transactions(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    cols: TransactionColumns,
    *,
    cleaning: CleaningConfig,
    ts_format: str | None = None,
    decimal: str = ".",
    personal: tuple[str, ...] = (),
) -> tuple[tuple[str, ...], CleaningReport]:
    """Create table ``transactions`` from raw table; return (columns present, report).

    Raises
    ------
    DataError
        missing mapped column, unparseable timestamp, non-numeric or missing amount, missing
        customer id when they are not to be dropped, or no row left after cleaning.
    """
    mapping = cols.model_dump()
    raw.require(con, mapping)
    used_personal = [c for c in mapping.values() if c in personal]
    if used_personal:
        raise DataError(f"{raw.where}: personal column(s) {used_personal} cannot be mapped")
    types = raw.columns(con)
    dedupe_on = [c for c in types if c not in personal] if cleaning.drop_duplicates else []
    select, present = _typed_select(
        raw, types, cols, ts_format=ts_format, decimal=decimal, dedupe_on=dedupe_on
    )
    is_ret = _is_return(present, cleaning)
    # the canonical table is made from this one in place (no second copy of the rows)
    con.execute(f"CREATE OR REPLACE TABLE _tx AS SELECT *, {is_ret} AS is_return FROM ({select})")
    hint = f" with format {ts_format!r}" if ts_format else " (set ts_format in the config"
    hint += "" if ts_format else ", or cleaning.drop_bad_timestamps: true to drop such rows)"
    if not cleaning.drop_bad_timestamps:
        raw.check(
            con,
            "_tx",
            "ts IS NULL",
            f"unparseable timestamp in column {cols.ts!r}{hint}",
            f"CAST({quote(cols.ts)} AS VARCHAR)",
            from_raw=True,
        )
    if "amount" in present:
        col = cols.amount or f"{cols.unit_price} x {cols.quantity}"
        raw.check(
            con,
            "_tx",
            "(amount IS NULL OR NOT isfinite(amount)) AND NOT _dup"
            + (" AND ts IS NOT NULL" if cleaning.drop_bad_timestamps else ""),
            f"non-numeric, missing or NaN amount in column {col!r}",
            _raw_text(cols.amount, cols.unit_price, cols.quantity),
            from_raw=True,
        )
    if not cleaning.drop_missing_customer_id:
        raw.check(
            con,
            "_tx",
            "customer_id IS NULL",
            f"missing customer id in column {cols.customer_id!r}",
            "NULL",
        )

    report = CleaningReport()
    steps = _steps(present, cleaning)
    gone: list[str] = []
    sums = []
    for _, cond in steps:
        prior = " AND ".join(f"NOT ({c})" for c in gone) or "true"
        sums.append(f"count(*) FILTER (WHERE ({prior}) AND ({cond}))")
        gone.append(cond)
    row = fetch_one(con, f"SELECT count(*), {', '.join(sums)} FROM _tx")
    report.rows_read = int(row[0])
    report.steps = [(name, int(n)) for (name, _), n in zip(steps, row[1:], strict=True)]

    # in place: the rows kept stay in the file's row order, and rowid (the history's
    # tie-break, as in the Spark engine) keeps that order
    keep = " AND ".join(f"NOT ({c})" for c in gone)
    con.execute(f"DELETE FROM _tx WHERE ({keep}) IS NOT TRUE")  # NULL: not kept
    if cleaning.returns == "net" and "amount" in present:
        con.execute("UPDATE _tx SET amount = -abs(amount) WHERE is_return AND NOT amount < 0")
    con.execute("ALTER TABLE _tx DROP COLUMN _row")
    con.execute("ALTER TABLE _tx DROP COLUMN _dup")
    con.execute("DROP TABLE IF EXISTS transactions")
    con.execute("ALTER TABLE _tx RENAME TO transactions")
    # distinct purchase days only where they are the purchases (a second distinct count
    # over every row costs as much as the first)
    days = (
        ", count(DISTINCT (customer_id, CAST(ts AS DATE))) FILTER (WHERE NOT is_return)"
        if cleaning.merge_same_day
        else ""
    )
    stats = fetch_one(
        con,
        "SELECT count(*), count(DISTINCT customer_id), count(*) FILTER (WHERE is_return),"
        f" count(*) FILTER (WHERE NOT is_return){days} FROM transactions",
    )
    report.rows_kept, report.customers, report.returns_kept = map(int, stats[:3])
    purchase_rows = int(stats[3])
    report.purchases = int(stats[4]) if cleaning.merge_same_day else purchase_rows
    report.same_day_rows_merged = purchase_rows - report.purchases
    if report.rows_kept == 0:
        removed = "; ".join(f"{name}: {n:,}" for name, n in report.steps if n)
        raise DataError(
            f"{raw.where}: all {report.rows_read:,} rows were removed by cleaning ({removed}); "
            "check the column mapping and the cleaning settings"
        )
    return ("customer_id", "ts", *present), report
