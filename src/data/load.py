"""Load a config's data (files or the synthetic generator) into canonical DuckDB tables."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from customer_ml.config import (
    CleaningConfig,
    Config,
    CustomerColumns,
    EventColumns,
    PrivacyConfig,
    TransactionColumns,
)
from customer_ml.data.dataset import CleaningReport, Dataset
from customer_ml.data.io import drop_raw, header_line_offset, literal, read_raw, register_frame
from customer_ml.data.parse import RawTable
from customer_ml.data.tables import build_customers, build_events
from customer_ml.data.transactions import OPTIONAL_TX_COLUMNS, build_transactions
from customer_ml.errors import DataError

__all__ = ["connect", "from_frames", "load_data"]


def connect(
    *,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that spills to disk beyond `memory_limit` (default:
    MEMORY_SHARE of this machine's memory, where DuckDB's own is 80 %: the snapshot's numpy
    and pandas arrays live outside it) into `temp_directory` (default: one in the system's
    temp directory, removed at exit, where DuckDB's own is ``.tmp`` in the working one)."""
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    # in Jupyter without ipywidgets DuckDB refuses the setting; the bar is off there already
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")
    memory_limit = memory_limit or _default_memory_limit()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = {literal(str(temp_directory or _spill_directory()))}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


MEMORY_SHARE = 0.4  # of the machine's memory, DuckDB's limit unless configured


def _default_memory_limit() -> str | None:
    """MEMORY_SHARE of the physical memory, in MB (None where the system does not say)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return f"{int(total * MEMORY_SHARE / 2**20)}MB" if total > 0 else None


@functools.cache
def _spill_directory() -> Path:
    """This process's spill directory (DuckDB creates it when it first spills)."""
    path = Path(tempfile.gettempdir()) / f"customer-ml-duckdb-{os.getpid()}"
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _pseudonymise(ds: Dataset, privacy: PrivacyConfig) -> None:
    salt = os.environ.get(privacy.salt_env)
    if not salt:
        raise DataError(
            f"privacy.pseudonymise_ids is on but the environment variable {privacy.salt_env} "
            "(the salt) is not set"
        )
    tables = [
        t
        for t, on in (
            ("transactions", ds.has_transactions),
            ("customers", ds.has_customers),
            ("events", ds.has_events),
        )
        if on
    ]
    for t in tables:
        ds.con.execute(f"UPDATE {t} SET customer_id = left(sha256(? || customer_id), 16)", [salt])


def _finish(ds: Dataset, privacy: PrivacyConfig) -> Dataset:
    if privacy.pseudonymise_ids:
        _pseudonymise(ds, privacy)
    return ds


def load_data(config: Config, *, con: duckdb.DuckDBPyConnection | None = None) -> Dataset:
    """Read, validate and clean the data a config names; nothing is written anywhere.

    Raises
    ------
    DataError
        with the file, row, column or value at fault.
    """
    con = con or connect(
        memory_limit=config.duckdb.memory_limit,
        temp_directory=config.duckdb.temp_directory,
    )
    src = config.data
    if src.synthetic is not None:
        from customer_ml.data.synthetic import generate

        syn = generate(
            n_customers=src.synthetic.n_customers,
            seed=config.seed,
            start=src.synthetic.start,
            days=src.synthetic.days,
            acquisition_days=src.synthetic.acquisition_days,
            with_events=src.synthetic.with_events,
        )
        return from_frames(
            syn.transactions,
            syn.customers,
            syn.events if len(syn.events) else None,
            con=con,
            cleaning=config.cleaning,
            privacy=config.privacy,
        )
    ds = Dataset(con=con, merge_same_day=config.cleaning.merge_same_day)
    if src.transactions is not None:
        t = src.transactions
        row = read_raw(con, "raw_transactions", t)
        raw = RawTable("raw_transactions", str(t.path), header_line_offset(t), row)
        ds.tx_columns, ds.cleaning = build_transactions(
            con,
            raw,
            t.columns,
            cleaning=config.cleaning,
            ts_format=t.ts_format,
            decimal=t.read_options.decimal,
            personal=t.personal_columns,
        )
        drop_raw(con, "raw_transactions")
    if src.customers is not None:
        c = src.customers
        row = read_raw(con, "raw_customers", c)
        raw = RawTable("raw_customers", str(c.path), header_line_offset(c), row)
        ds.customer_columns, notes = build_customers(
            con,
            raw,
            c.columns,
            attributes=c.attributes,
            personal=c.personal_columns,
            churn_positive=c.churn_positive,
            ts_format=c.ts_format,
        )
        ds.cleaning.notes += notes
        drop_raw(con, "raw_customers")
    if src.events is not None:
        e = src.events
        row = read_raw(con, "raw_events", e)
        raw = RawTable("raw_events", str(e.path), header_line_offset(e), row)
        ds.events_report = build_events(con, raw, e.columns, ts_format=e.ts_format)
        ds.has_events = True
        drop_raw(con, "raw_events")
    return _finish(ds, config.privacy)


def from_frames(
    transactions: pd.DataFrame | None,
    customers: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    cleaning: CleaningConfig | None = None,
    privacy: PrivacyConfig | None = None,
    ts_format: str | None = None,
    churn_positive: str = "Yes",
    con: duckdb.DuckDBPyConnection | None = None,
) -> Dataset:
    """Build a Dataset from pandas frames that already use the canonical column names.

    `transactions` needs ``customer_id, ts`` and may have any of ``amount, quantity,
    order_id, product_id, category, channel``; `customers` needs ``customer_id`` (optional
    ``signup_ts``, ``churn_label``; other columns are attributes); `events` needs
    ``customer_id, ts, event_type``. Validation and cleaning are those of `load_data`.
    """
    con = con or connect()
    cleaning = cleaning or CleaningConfig()
    ds = Dataset(con=con, cleaning=CleaningReport(), merge_same_day=cleaning.merge_same_day)
    if transactions is not None:
        if len(transactions) == 0:
            raise DataError("transactions frame: no rows")
        register_frame(con, "raw_transactions", transactions)
        present = {c: c for c in OPTIONAL_TX_COLUMNS if c in transactions.columns}
        cols = TransactionColumns(customer_id="customer_id", ts="ts", **present)
        raw = RawTable("raw_transactions", "transactions frame", -1)
        ds.tx_columns, ds.cleaning = build_transactions(
            con, raw, cols, cleaning=cleaning, ts_format=ts_format
        )
        con.execute("DROP TABLE raw_transactions")
    if customers is not None:
        register_frame(con, "raw_customers", customers)
        ccols = CustomerColumns(
            customer_id="customer_id",
            signup_ts="signup_ts" if "signup_ts" in customers.columns else None,
            churn_label="churn_label" if "churn_label" in customers.columns else None,
        )
        raw = RawTable("raw_customers", "customers frame", -1)
        ds.customer_columns, notes = build_customers(
            con,
            raw,
            ccols,
            attributes=None,
            personal=(),
            churn_positive=churn_positive,
            ts_format=ts_format,
        )
        ds.cleaning.notes += notes
        con.execute("DROP TABLE raw_customers")
    if events is not None:
        register_frame(con, "raw_events", events)
        raw = RawTable("raw_events", "events frame", -1)
        ecols = EventColumns(customer_id="customer_id", ts="ts", event_type="event_type")
        ds.events_report = build_events(con, raw, ecols, ts_format=ts_format)
        ds.has_events = True
        con.execute("DROP TABLE raw_events")
    if not ds.has_transactions and not ds.has_customers:
        raise DataError("no data: pass transactions (or customers for contractual data)")
    return _finish(ds, privacy or PrivacyConfig())
