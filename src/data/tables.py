"""The optional tables: customers (attributes, contractual label) and behaviour events."""

from __future__ import annotations

import re

import duckdb

from customer_ml.config import CustomerColumns, EventColumns
from customer_ml.data.io import fetch_one, quote
from customer_ml.data.parse import RawTable, id_expr, ts_expr
from customer_ml.errors import DataError

__all__ = ["PERSONAL_NAME", "build_customers", "build_events"]

#: column names that look personal; dropped from attributes unless listed explicitly
PERSONAL_NAME = re.compile(
    r"^((first|last|full|sur|given|family|customer|contact)_?)?name$|^e_?mail(_?address)?$|"
    r"^(tele)?phone(_?(number|no))?$|^mobile(_?(number|no|phone))?$|"
    r"^((street|postal|home|billing|shipping)_?)?address(_?line_?\d)?$|^(zip|post)_?code$|"
    r"^ssn$|^passport|^iban$|^credit_?card|^(date_?of_?birth|birth_?date|dob)$",
    re.IGNORECASE,
)


def _attribute_expr(con: duckdb.DuckDBPyConnection, table: str, col: str, dtype: str) -> str:
    """Numbers stored as text become DOUBLE (blanks as NULL); other text is trimmed."""
    c = quote(col)
    if dtype != "VARCHAR":
        return f"{c} AS {c}"
    text = f"NULLIF(trim({c}), '')"
    row = fetch_one(
        con, f"SELECT count({text}), count(TRY_CAST({text} AS DOUBLE)) FROM {quote(table)}"
    )
    if row[0] > 0 and row[0] == row[1]:
        return f"TRY_CAST({text} AS DOUBLE) AS {c}"
    return f"{text} AS {c}"


def build_customers(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    cols: CustomerColumns,
    *,
    attributes: tuple[str, ...] | None,
    personal: tuple[str, ...],
    churn_positive: str,
    ts_format: str | None,
) -> tuple[tuple[str, ...], list[str]]:
    """Create table ``customers``; return (its columns, notes for the cleaning report).

    Raises
    ------
    DataError
        missing column, duplicate customer ids (first ones listed with rows), bad signup date,
        missing churn label.
    """
    mapping = cols.model_dump()
    raw.require(con, mapping)
    types = raw.columns(con)
    mapped = {c for c in mapping.values() if c}
    notes: list[str] = []
    if attributes is None:
        attrs = [c for c in types if c not in mapped and c not in personal]
        looks_personal = [c for c in attrs if PERSONAL_NAME.search(c)]
        if looks_personal:
            notes.append(f"customers: dropped personal-looking columns {looks_personal}")
        attrs = [c for c in attrs if c not in looks_personal]
    else:
        raw.require(con, {f"attribute {a}": a for a in attributes})
        attrs = [a for a in attributes if a not in personal]
    parts = [
        f"{raw.row} + 1 AS _row",
        f"{id_expr(cols.customer_id, types[cols.customer_id])} AS customer_id",
    ]
    if cols.signup_ts:
        parts += [
            f"{ts_expr(cols.signup_ts, types[cols.signup_ts], ts_format)} AS signup_ts",
            f"CAST({quote(cols.signup_ts)} AS VARCHAR) AS _signup_raw",
        ]
    if cols.churn_label:
        lbl = f"trim(CAST({quote(cols.churn_label)} AS VARCHAR))"
        pos = churn_positive.replace("'", "''")
        parts += [
            f"CASE WHEN {lbl} IS NULL OR {lbl} = '' THEN NULL ELSE {lbl} = '{pos}' END AS churned",
            f"{lbl} AS _label_raw",
        ]
    parts += [_attribute_expr(con, raw.name, a, types[a]) for a in attrs]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _cust AS SELECT {', '.join(parts)} FROM {quote(raw.name)}"
    )
    n_missing = fetch_one(con, "SELECT count(*) FROM _cust WHERE customer_id IS NULL")
    if n_missing[0]:
        notes.append(f"customers: {n_missing[0]} rows without customer id dropped")
    if cols.signup_ts:
        raw.check(
            con,
            "_cust",
            "signup_ts IS NULL AND _signup_raw IS NOT NULL",
            f"unparseable timestamp in column {cols.signup_ts!r}",
            "_signup_raw",
        )
    if cols.churn_label:
        raw.check(
            con,
            "_cust",
            "churned IS NULL AND customer_id IS NOT NULL",
            f"missing churn label in column {cols.churn_label!r}",
            "_label_raw",
        )
    dups = con.execute(
        "SELECT customer_id, list(_row ORDER BY _row) FROM _cust WHERE customer_id IS NOT NULL "
        "GROUP BY customer_id HAVING count(*) > 1 ORDER BY min(_row)"
    ).fetchall()
    if dups:
        # rows, not the ids themselves: error messages end up in job logs
        shown = "; ".join(f"rows {rows[:5]}" for _, rows in dups[:5])
        raise DataError(
            f"{raw.where}: {len(dups)} duplicate customer id(s) in column "
            f"{cols.customer_id!r}: {shown}"
        )
    keep = ["customer_id"] + (["signup_ts"] if cols.signup_ts else [])
    keep += (["churned"] if cols.churn_label else []) + attrs
    con.execute(
        f"CREATE OR REPLACE TABLE customers AS SELECT {', '.join(quote(c) for c in keep)} "
        "FROM _cust WHERE customer_id IS NOT NULL"
    )
    con.execute("DROP TABLE _cust")
    return tuple(keep), notes


def build_events(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    cols: EventColumns,
    *,
    ts_format: str | None,
) -> dict[str, int]:
    """Create table ``events(customer_id, ts, event_type)``; return counts read/kept."""
    raw.require(con, cols.model_dump())
    types = raw.columns(con)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _ev AS SELECT {raw.row} + 1 AS _row, "
        f"{id_expr(cols.customer_id, types[cols.customer_id])} AS customer_id, "
        f"{ts_expr(cols.ts, types[cols.ts], ts_format)} AS ts, "
        f"{id_expr(cols.event_type, types[cols.event_type])} AS event_type "
        f"FROM {quote(raw.name)}"
    )
    raw.check(
        con,
        "_ev",
        "ts IS NULL",
        f"unparseable timestamp in column {cols.ts!r}",
        f"CAST({quote(cols.ts)} AS VARCHAR)",
        from_raw=True,
    )
    con.execute(
        "CREATE OR REPLACE TABLE events AS SELECT customer_id, ts, event_type FROM _ev "
        "WHERE customer_id IS NOT NULL AND event_type IS NOT NULL ORDER BY ts"
    )
    row = fetch_one(con, "SELECT (SELECT count(*) FROM _ev), count(*) FROM events")
    con.execute("DROP TABLE _ev")
    if row[1] == 0:
        raise DataError(f"{raw.where}: no event row has both a customer id and an event type")
    return {"rows_read": int(row[0]), "rows_kept": int(row[1])}
