"""Typing raw columns (text from CSV, or typed Parquet/pandas) with row-level error reports."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from customer_ml.data.io import fetch_one, quote
from customer_ml.errors import DataError

__all__ = ["RawTable", "amount_expr", "id_expr", "number_expr", "ts_expr"]


@dataclass(frozen=True)
class RawTable:
    """A raw table in DuckDB and how to talk about it in messages."""

    name: str  # DuckDB table holding the file's rows in file order
    where: str  # the file path (or 'transactions frame') shown in messages
    line_offset: int  # lines before data row 1 (header, skipped rows); -1 when not a text file
    row: str = "rowid"  # SQL for the row number from 0: a table's rowid, a Parquet view's own

    def columns(self, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
        """The file's columns and their DuckDB types, in file order."""
        rows = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [self.name],
        ).fetchall()
        return {str(c): str(t) for c, t in rows if self.row == "rowid" or c != self.row}

    def require(self, con: duckdb.DuckDBPyConnection, mapping: dict[str, str | None]) -> None:
        """Fail with the list of existing columns when a mapped column is missing."""
        have = self.columns(con)
        for canonical, col in mapping.items():
            if col is not None and col not in have:
                raise DataError(
                    f"{self.where}: column {col!r} (mapped to {canonical}) not found; "
                    f"the file has columns: {', '.join(have)}"
                )

    def locate(self, row: int) -> str:
        if self.line_offset < 0:
            return f"row {row}"
        return f"row {row} (line {row + self.line_offset})"

    def check(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        bad: str,
        what: str,
        value: str,
        *,
        from_raw: bool = False,
    ) -> None:
        """Raise if any row of `table` meets SQL condition `bad`; name the first such row.

        `value` is an SQL expression for the original value shown in the message, over
        `table`'s columns, or with `from_raw` over this raw table's (looked up by row, so
        that `table` need not carry the original text of every row).
        """
        n_bad = fetch_one(con, f"SELECT count(*) FROM {table} WHERE {bad}")
        if not n_bad[0]:
            return
        shown = "NULL" if from_raw else value
        first = con.execute(
            f"SELECT _row, {shown} FROM {table} WHERE {bad} ORDER BY _row LIMIT 3"
        ).fetchall()
        if from_raw:
            rows = ", ".join(str(int(r)) for r, _ in first)
            found = dict(
                con.execute(
                    f"SELECT {self.row} + 1, {value} FROM {quote(self.name)} "
                    f"WHERE {self.row} + 1 IN ({rows})"
                ).fetchall()
            )
            first = [(r, found.get(r)) for r, _ in first]
        more = "".join(f"; {self.locate(int(r))}: {v!r}" for r, v in first[1:])
        raise DataError(
            f"{self.where}: {what} at {self.locate(int(first[0][0]))}: value {first[0][1]!r}"
            f"{more} ({n_bad[0]} row{'s' if n_bad[0] != 1 else ''} in all)"
        )


def _text(col: str, dtype: str) -> str:
    c = quote(col)
    return f"NULLIF(trim({c}), '')" if dtype == "VARCHAR" else f"CAST({c} AS VARCHAR)"


def id_expr(col: str, dtype: str) -> str:
    """Customer ids are text: '00001' keeps its zeros; integer ids lose any '.0'."""
    if dtype in ("DOUBLE", "FLOAT"):
        return f"CAST(CAST({quote(col)} AS BIGINT) AS VARCHAR)"
    return _text(col, dtype)


def ts_expr(col: str, dtype: str, ts_format: str | None) -> str:
    c = quote(col)
    if dtype.startswith("TIMESTAMP WITH"):
        return f"CAST(timezone('UTC', {c}) AS TIMESTAMP)"
    if dtype.startswith("TIMESTAMP") or dtype == "DATE":
        return f"CAST({c} AS TIMESTAMP)"
    text = _text(col, dtype)
    if ts_format:
        fmt = ts_format.replace("'", "''")
        return f"CAST(try_strptime({text}, '{fmt}') AS TIMESTAMP)"
    return f"TRY_CAST({text} AS TIMESTAMP)"


def number_expr(col: str, dtype: str, decimal: str = ".") -> str:
    if dtype != "VARCHAR":
        return f"TRY_CAST({quote(col)} AS DOUBLE)"
    text = _text(col, dtype)
    if decimal != ".":
        text = f"replace(replace({text}, '.', ''), '{decimal}', '.')"
    return f"TRY_CAST({text} AS DOUBLE)"


def amount_expr(
    amount: str | None,
    unit_price: str | None,
    quantity: str | None,
    types: dict[str, str],
    decimal: str,
) -> str | None:
    if amount:
        return number_expr(amount, types[amount], decimal)
    if unit_price and quantity:
        return (
            f"{number_expr(unit_price, types[unit_price], decimal)}"
            f" * {number_expr(quantity, types[quantity], decimal)}"
        )
    return None
