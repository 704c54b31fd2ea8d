"""The canonical tables of one load, in DuckDB, with the cleaning report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
import pandas as pd

from customer_ml.data.io import fetch_one

__all__ = ["CleaningReport", "Dataset", "DateSpan"]


class DateSpan(Protocol):
    """Data that knows its first and last transaction (a Dataset, or Spark's)."""

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None: ...


@dataclass
class CleaningReport:
    """What loading read and what each cleaning step removed (rows), in order."""

    rows_read: int = 0
    steps: list[tuple[str, int]] = field(default_factory=list)
    rows_kept: int = 0
    customers: int = 0
    returns_kept: int = 0
    same_day_rows_merged: int = 0
    purchases: int = 0  # day-level (same-day merged) or row-level purchase count
    notes: list[str] = field(default_factory=list)

    def removed(self, step: str) -> int:
        return sum(n for s, n in self.steps if s == step)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "removed": dict(self.steps),
            "rows_kept": self.rows_kept,
            "customers": self.customers,
            "returns_kept": self.returns_kept,
            "same_day_rows_merged": self.same_day_rows_merged,
            "purchases": self.purchases,
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        out = [f"rows read: {self.rows_read:,}"]
        out += [f"  removed, {step}: {n:,}" for step, n in self.steps]
        out.append(f"rows kept: {self.rows_kept:,} ({self.customers:,} customers)")
        if self.returns_kept:
            out.append(f"  returns kept (netted against spend): {self.returns_kept:,}")
        out.append(
            f"purchases: {self.purchases:,} (same-day rows merged: {self.same_day_rows_merged:,})"
        )
        out += [f"note: {n}" for n in self.notes]
        return out


@dataclass
class Dataset:
    """Canonical tables in a DuckDB connection.

    Tables: ``transactions(customer_id, ts, [amount, quantity, order_id, product_id, category,
    channel], is_return)``, a view ``purchases(customer_id, ts, day, amount, n_rows)`` with one
    row per purchase (per customer-day when same-day merging is on, the BTYD convention;
    returns excluded), and optionally ``customers(customer_id, [signup_ts, churned], ...)`` and
    ``events(customer_id, ts, event_type)``.
    """

    con: duckdb.DuckDBPyConnection
    tx_columns: tuple[str, ...] = ()
    customer_columns: tuple[str, ...] = ()
    has_events: bool = False
    cleaning: CleaningReport = field(default_factory=CleaningReport)
    events_report: dict[str, int] = field(default_factory=dict)
    merge_same_day: bool = True  # a purchase is a customer-day (BTYD); else an order or a row
    history_ready: bool = False  # set by customer_ml.features.history once it has run

    @property
    def has_transactions(self) -> bool:
        return bool(self.tx_columns)

    @property
    def has_amount(self) -> bool:
        return "amount" in self.tx_columns

    @property
    def has_customers(self) -> bool:
        return bool(self.customer_columns)

    def table(self, name: str) -> pd.DataFrame:
        """A canonical table as pandas (for notebooks; features stay in DuckDB); transactions
        and events in time order, ties in the file's row order."""
        if name in ("transactions", "events"):
            return self.con.sql(f"SELECT * FROM {name} ORDER BY ts, rowid").df()
        return self.con.table(name).df()

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        if not self.has_transactions:
            return None
        row = fetch_one(self.con, "SELECT min(ts), max(ts) FROM transactions")
        return pd.Timestamp(row[0]), pd.Timestamp(row[1])

    def profile(self) -> dict[str, Any]:
        """Rows, customers, date range, amount statistics and the cleaning counts."""
        out: dict[str, Any] = {"cleaning": self.cleaning.to_dict()}
        if self.has_transactions:
            q = "SELECT count(*), count(DISTINCT customer_id), min(ts), max(ts) FROM transactions"
            row = fetch_one(self.con, q)
            out["transactions"] = {
                "rows": int(row[0]),
                "customers": int(row[1]),
                "first_ts": str(row[2]),
                "last_ts": str(row[3]),
                "columns": list(self.tx_columns),
            }
            if self.has_amount:
                a = fetch_one(
                    self.con,
                    "SELECT sum(amount), avg(amount), median(amount), min(amount), max(amount),"
                    " quantile_cont(amount, 0.99) FROM transactions WHERE NOT is_return",
                )
                out["amount"] = dict(
                    zip(
                        ("total", "mean", "median", "min", "max", "p99"),
                        (float(v) for v in a),
                        strict=True,
                    )
                )
        if self.has_customers:
            row = fetch_one(self.con, "SELECT count(*) FROM customers")
            out["customers"] = {"rows": int(row[0]), "columns": list(self.customer_columns)}
        if self.has_events:
            ev = self.con.execute(
                "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
            out["events"] = {str(k): int(v) for k, v in ev}
        return out
