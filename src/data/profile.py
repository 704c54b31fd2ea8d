"""A printed profile of a loaded dataset: sizes, dates, amounts, cleaning, column problems."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from customer_ml.data.dataset import Dataset
from customer_ml.data.io import fetch_one, quote

__all__ = ["column_problems", "print_profile"]


def column_problems(ds: Dataset) -> list[dict[str, Any]]:
    """Per table and column: missing values and distinct values (after cleaning)."""
    out = []
    for table, cols in (
        ("transactions", ds.tx_columns),
        ("customers", ds.customer_columns),
        ("events", ("customer_id", "ts", "event_type") if ds.has_events else ()),
    ):
        if not cols:
            continue
        exprs = ", ".join(f"count(*) - count({quote(c)}), count(DISTINCT {quote(c)})" for c in cols)
        row = fetch_one(ds.con, f"SELECT count(*), {exprs} FROM {table}")
        for i, c in enumerate(cols):
            out.append(
                {
                    "table": table,
                    "column": c,
                    "rows": int(row[0]),
                    "missing": int(row[1 + 2 * i]),
                    "distinct": int(row[2 + 2 * i]),
                }
            )
    return out


def print_profile(ds: Dataset, *, console: Console) -> dict[str, Any]:
    """Print the profile and return it as a dict."""
    prof = ds.profile()
    if "transactions" in prof:
        t = prof["transactions"]
        console.print(
            f"[bold]transactions[/bold]: {t['rows']:,} rows, {t['customers']:,} "
            f"customers, {t['first_ts']} .. {t['last_ts']}"
        )
        for line in ds.cleaning.lines():
            console.print(f"  {line}")
    if "amount" in prof:
        a = prof["amount"]
        console.print("  amount: " + ", ".join(f"{k} {v:,.2f}" for k, v in a.items()))
    elif ds.has_transactions:
        console.print("  amount: none (value features and LTV in money are off)")
    if "customers" in prof:
        console.print(
            f"[bold]customers[/bold]: {prof['customers']['rows']:,} rows, columns "
            f"{', '.join(prof['customers']['columns'])}"
        )
        for note in ds.cleaning.notes:
            console.print(f"  note: {note}")
    if "events" in prof:
        console.print(
            "[bold]events[/bold]: " + ", ".join(f"{k} {v:,}" for k, v in prof["events"].items())
        )
    problems = column_problems(ds)
    table = Table("table", "column", "missing", "distinct", title="columns")
    for p in problems:
        miss = f"[yellow]{p['missing']:,}[/yellow]" if p["missing"] else "0"
        table.add_row(p["table"], p["column"], miss, f"{p['distinct']:,}")
    console.print(table)
    prof["columns"] = problems
    return prof
