"""The behaviour vector as segmented reductions over the customer-ordered history (numpy).

The ``history`` table is ordered by customer and time, so the rows of one customer up to a
cutoff are one contiguous run. DuckDB filters them (``ts <= as_of``), computes the per-row
codes below in its parallel scan, and streams them in history order as Arrow batches. Every
aggregate of the vector is then a reduction over runs: a sum by ``np.add.reduceat``, a count
read off a cumulative sum, or a histogram of (customer, code) by ``np.bincount``. DuckDB itself
would hash-aggregate the rows (it has no aggregation over sorted input), which costs 2.5-5 ns
per row and aggregate: about 2.5 s for the 40 aggregates of 10M rows on 2 cores, against
about 0.1 s for the reductions here (README, "How the snapshot is computed").

Batches are cut at customer boundaries, so memory stays near one batch of rows (the 100M-row
case streams). The columns and their definitions are those of the SQL form in
:mod:`customer_ml.features.snapshot` (``engine="sql"``); the tests hold the two, and the pandas
reference, equal.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from customer_ml.data.dataset import Dataset
from customer_ml.data.io import fetch_one
from customer_ml.features.catalogue import slug
from customer_ml.features.history import CUSTOMERS, codes, prepare_history
from customer_ml.features.timing import Cutoff

__all__ = ["BATCH_ROWS", "behaviour_table"]

BATCH_ROWS = 1_000_000  # rows per Arrow batch read from DuckDB
_NONE = np.zeros(1, np.intp)  # the lookup table of a column the data does not have
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class _Plan:
    """What the rows up to one cutoff hold, and so which columns and aggregates exist."""

    day: int  # the cutoff's day, in days since 1970-01-01
    windows: tuple[int, ...]
    edges: tuple[int, ...]  # window edges, ascending: "since t days ago"
    categories: tuple[str, ...]
    channels: tuple[str, ...]
    category_lut: np.ndarray  # history category code -> 1 + index in `categories`, else 0
    channel_lut: np.ndarray
    amount: bool
    quantity: bool
    orders: bool
    products: bool
    category: bool
    returns: bool  # the rows up to the cutoff hold returns


def _select(p: _Plan, table: str, end: str) -> str:
    """The per-row columns, computed in DuckDB's scan: flags as UTINYINT (numpy reads them
    without a copy), purchase-only amounts, and small codes for the histograms."""

    def bought(expr: str, otherwise: str) -> str:  # without returns every row is bought
        return f"CASE WHEN NOT is_return THEN {expr} {otherwise}END" if p.returns else expr

    k = len(p.edges)
    since = [f"day > DATE '{_date(p.day)}' - {t}" for t in p.edges]
    bucket = " ".join(f"WHEN {cond} THEN {i}" for i, cond in enumerate(since))  # newest first
    cols = [
        "cust",
        "day",
        "CAST(new_purchase AS UTINYINT) AS np",
        "CAST(coalesce(gap, 0) AS DOUBLE) AS gap",
        # a purchase's window bucket (the first edge it is within; k: none), k + 1 otherwise
        f"CAST(CASE WHEN NOT new_purchase THEN {k + 1} {bucket} ELSE {k} END AS UTINYINT) AS bn",
        "CAST(CASE WHEN new_purchase THEN dow ELSE 0 END AS UTINYINT) AS dow",
    ]
    if p.returns:
        cols.append("CAST(is_return AS UTINYINT) AS ret")
    if p.amount:
        cols += [
            "amount",  # also the spent amount when there are no returns (see _spent)
            f"{bought('amount_sq', 'ELSE 0 ')} AS sq",
            "CASE WHEN first_purchase THEN amount ELSE 0 END AS opening",
            f"CAST(CASE {bucket} ELSE {k} END AS UTINYINT) AS b",
        ]
        if p.returns:
            cols.append(f"{bought('amount', 'ELSE 0 ')} AS spent")
    if p.quantity:
        cols.append(f"{bought('quantity', '')} AS qty")
    for flag, present in (
        ("new_order", p.orders),
        ("new_product", p.products),
        ("new_category", p.category),
    ):
        if present:
            cols.append(f"CAST({flag} AS UTINYINT) AS {flag}")
    if p.categories:
        cols.append("category_code")
    if p.channels:
        cols.append("channel_code")
    return f"SELECT {', '.join(cols)} FROM {table} WHERE ts <= {end}"


def _spent(p: _Plan) -> str:
    """The column of purchase amounts (returns count 0)."""
    return "spent" if p.returns else "amount"


def _date(days: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=days)).isoformat()


def _runs(cust: np.ndarray) -> np.ndarray:
    """Indices where a new customer starts (after index 0)."""
    return np.flatnonzero(cust[1:] != cust[:-1]) + 1


def _chunks(reader: pa.RecordBatchReader) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """(rows, starts of the customers' runs): whole customers only, in history order. A
    customer cut by a batch boundary is carried over and joined with the next batch's rows
    of the same customer (a small copy); the rest are slices of the batches, not copies."""
    carry: list[pa.RecordBatch] = []
    for batch in reader:
        if not len(batch):
            continue
        cust = batch.column(0).to_numpy()
        brk = _runs(cust)
        lead = 0
        if carry:  # the carried customer's rows continue until this batch's first boundary
            same = cust[0] == carry[-1].column(0)[0].as_py()
            lead = (int(brk[0]) if len(brk) else len(batch)) if same else 0
            if lead == len(batch):
                carry.append(batch)
                continue
            yield _joined([*carry, batch.slice(0, lead)] if lead else carry)
            brk = brk[brk > lead]
        last = int(brk[-1]) if len(brk) else lead
        if last > lead:
            yield batch.slice(lead, last - lead), np.concatenate(([0], brk[brk < last] - lead))
        carry = [batch.slice(last)]
    if carry:
        yield _joined(carry)


def _joined(parts: list[pa.RecordBatch]) -> tuple[pa.RecordBatch, np.ndarray]:
    rows = pa.Table.from_batches(parts).combine_chunks().to_batches()[0]
    return rows, np.zeros(1, dtype=np.int64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 or NaN (SQL's ``x / nullif(den, 0)``)."""
    out = np.full(len(num), np.nan)
    ok = den != 0
    np.divide(num, den, out=out, where=ok)
    return out


def _sums(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(x, starts, dtype=np.float64 if x.dtype.kind == "f" else np.int64)


def _histogram(
    row: np.ndarray, n_cust: int, code: np.ndarray, width: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """(customers x width): rows (or the sum of `weights`) per customer and code; `row` holds
    each row's customer (0 to `n_cust` - 1)."""
    key = row * width
    key += code
    counts = np.bincount(key, weights=weights, minlength=n_cust * width)
    if weights is not None:  # (numpy returns integers for no rows at all)
        counts = counts.astype(np.float64, copy=False)
    return counts.reshape(n_cust, width)


def _kept(values: np.ndarray | pa.Array, keep: np.ndarray) -> np.ndarray | pa.Array:
    return values.filter(pa.array(keep)) if isinstance(values, pa.Array) else values[keep]


def _aggregate(
    rows: pa.RecordBatch, starts: np.ndarray, p: _Plan
) -> dict[str, np.ndarray | pa.Array]:
    """The behaviour vector of the whole customers in `rows` (runs beginning at `starts`).
    A customer with only returns divides by no purchase; its row is dropped at the end."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _vector(rows, starts, p)


def _vector(rows: pa.RecordBatch, starts: np.ndarray, p: _Plan) -> dict[str, np.ndarray | pa.Array]:

    def col(name: str) -> np.ndarray:
        return rows.column(name).to_numpy()

    n_rows, n_cust = rows.num_rows, len(starts)
    ends = np.append(starts[1:], n_rows) if n_cust else starts
    length = ends - starts
    day = rows.column("day").cast(pa.int32()).to_numpy()
    k = len(p.edges)
    row = np.repeat(np.arange(n_cust, dtype=np.intp), length)  # each row's customer

    def histogram(code: np.ndarray, width: int, weights: np.ndarray | None = None) -> np.ndarray:
        return _histogram(row, n_cust, code, width, weights)

    days = histogram(col("dow"), 8)  # purchases by weekday (0: other rows)
    n = length - days[:, 0]
    bought = np.cumsum(histogram(col("bn"), k + 2)[:, :k], axis=1)  # since each edge
    if p.returns:
        ret = col("ret")
        big = np.iinfo(np.int32).max
        first = np.minimum.reduceat(np.where(ret == 0, day, big), starts).astype(np.int64)
        last = np.maximum.reduceat(np.where(ret == 0, day, -big), starts).astype(np.int64)
        keep = last != -big  # a purchase, not only returns (SQL: the HAVING)
    else:
        first, last = day[starts].astype(np.int64), day[ends - 1].astype(np.int64)
        keep = None
    out: dict[str, np.ndarray | pa.Array] = {"cust": col("cust")[starts]}
    out.update(n_purchases=n, frequency=n - 1, recency_days=p.day - last, T=p.day - first)
    out["recency"] = last - first
    gap = col("gap")
    sum_gap = _sums(gap, starts)
    ipt_mean = _ratio(sum_gap, (n - 1).astype(np.float64))
    out["ipt_mean_days"] = ipt_mean
    spread = np.maximum(_sums(gap * gap, starts) - sum_gap**2 / np.maximum(n - 1, 1), 0)
    out["ipt_std_days"] = np.where(n > 2, np.sqrt(spread / np.maximum(n - 2, 1)), np.nan)
    # the gap of the last purchase: its row is where the running purchase count last grows
    opened = np.cumsum(col("np"), dtype=np.int64)
    at = np.searchsorted(opened, opened[ends - 1])
    out["last_gap_days"] = pa.array(gap[at].astype(np.int64), mask=n < 2)
    out["gap_ratio"] = _ratio((p.day - last).astype(np.float64), ipt_mean)
    if p.amount:
        spent = _sums(col(_spent(p)), starts)
        squares = _sums(col("sq"), starts)
        opening = _sums(col("opening"), starts)
        many = n > 1
        out["monetary_mean"] = spent / n
        sd = np.sqrt(np.maximum(squares - spent**2 / n, 0) / np.maximum(n - 1, 1))
        out["monetary_std"] = np.where(many, sd, np.nan)
        out["monetary_value"] = np.where(many, (spent - opening) / np.maximum(n - 1, 1), 0.0)
    spend = (
        np.cumsum(histogram(col("b"), k + 1, col(_spent(p)))[:, :k], axis=1) if p.amount else None
    )
    for w in p.windows:
        i, j = p.edges.index(w), p.edges.index(2 * w)
        now, before = bought[:, i], bought[:, j] - bought[:, i]
        out[f"purchases_{w}d"] = now
        out[f"purchases_trend_{w}d"] = (now - before) / np.maximum(now + before, 1)
        if spend is not None:
            s_now, s_before = spend[:, i], spend[:, j] - spend[:, i]
            out[f"spend_{w}d"] = s_now
            out[f"spend_trend_{w}d"] = (s_now - s_before) / np.maximum(
                np.abs(s_now) + np.abs(s_before), 1e-9
            )
    for k_day, name in enumerate(_DAYS, 1):
        out[f"dow_share_{name}"] = days[:, k_day] / n
    out["return_rate"] = _sums(ret, starts) / length if p.returns else np.zeros(n_cust)
    if p.amount:
        out["monetary_total"] = _sums(col("amount"), starts)
    orders = _sums(col("new_order"), starts) if p.orders else None
    if p.quantity:
        qty = rows.column("qty")
        total = _sums(pc.fill_null(qty, 0).to_numpy(), starts).astype(np.float64)
        if qty.null_count:  # SQL's sum skips NULLs and is NULL when all are
            seen = _sums(pc.is_valid(qty).to_numpy(zero_copy_only=False).view(np.uint8), starts)
            total[seen == 0] = np.nan
        per = orders if orders is not None else n
        out["items_per_order"] = _ratio(total, per.astype(np.float64))
    if orders is not None:
        out["n_orders"] = orders
    if p.products:
        out["distinct_products"] = _sums(col("new_product"), starts)
    if p.category:
        out["distinct_categories"] = _sums(col("new_category"), starts)
    if p.categories:
        shares = histogram(p.category_lut[col("category_code")], len(p.categories) + 1)
        for i, v in enumerate(p.categories, 1):
            out[f"category_share_{slug(v)}"] = shares[:, i] / length
    if p.channels:
        shares = histogram(p.channel_lut[col("channel_code")], len(p.channels) + 1)
        for i, v in enumerate(p.channels, 1):
            out[f"channel_share_{slug(v)}"] = shares[:, i] / length
    if keep is not None and not keep.all():
        out = {name: _kept(v, keep) for name, v in out.items()}
    return out


def behaviour_table(
    data: Dataset,
    c: Cutoff,
    windows: tuple[int, ...],
    categories: list[str],
    channels: list[str],
    *,
    threads: int = 2,
) -> pa.Table:
    """Per customer with a purchase up to the cutoff, in customer order: the behaviour vector
    of :func:`customer_ml.features.snapshot.build_snapshot` (rows with ``ts <= as_of`` only)."""
    table = prepare_history(data)
    cols = set(data.tx_columns)
    (returns,) = fetch_one(
        data.con,
        f"SELECT coalesce(bool_or(is_return), false) FROM {table} WHERE ts <= {c.sql_end()}",
    )
    p = _Plan(
        day=(c.day - dt.date(1970, 1, 1)).days,
        windows=windows,
        edges=tuple(sorted({t for w in windows for t in (w, 2 * w)})),
        categories=tuple(categories) if "category" in cols else (),
        channels=tuple(channels) if "channel" in cols else (),
        category_lut=_lut(data, "category", categories) if "category" in cols else _NONE,
        channel_lut=_lut(data, "channel", channels) if "channel" in cols else _NONE,
        amount="amount" in cols,
        quantity="quantity" in cols,
        orders="order_id" in cols,
        products="product_id" in cols,
        category="category" in cols,
        returns=bool(returns),
    )
    reader = data.con.sql(_select(p, table, c.sql_end())).to_arrow_reader(BATCH_ROWS)
    parts = _reduce_all(reader, p, threads)
    if not parts:
        empty = pa.RecordBatch.from_pylist([], schema=reader.schema)
        parts = [_aggregate(empty, np.empty(0, dtype=np.int64), p)]
    cust = np.concatenate([part.pop("cust") for part in parts])
    _check_order(cust)
    out = {"customer_id": _customer_ids(data).take(pa.array(cust))}
    out.update({name: _concat([part[name] for part in parts]) for name in parts[0]})
    return pa.table(out)


def _customer_ids(data: Dataset) -> pa.ChunkedArray:
    """Customer ids by customer number: the table is stored in that order, so no sort is
    needed unless the read comes back otherwise (then it is sorted here)."""
    ids = data.con.sql(f"SELECT cust, customer_id FROM {CUSTOMERS}").to_arrow_table()
    if not np.array_equal(ids.column(0).to_numpy(), np.arange(ids.num_rows)):
        ids = ids.sort_by("cust")
    return ids.column(1)


def _lut(data: Dataset, column: str, values: list[str]) -> np.ndarray:
    """The history's code of each `column` value -> 1 + its index in `values`, else 0."""
    index = {v: i for i, v in enumerate(values, 1)}
    coded = codes(data, column)
    lut = np.zeros(len(coded) + 1, np.intp)
    for value, code in coded.items():
        lut[code] = index.get(value, 0)
    return lut


def _reduce_all(
    reader: pa.RecordBatchReader, p: _Plan, threads: int
) -> list[dict[str, np.ndarray | pa.Array]]:
    """Each chunk's vector, in order. Chunks are reduced on `threads` threads (numpy releases
    the GIL in its loops) while this one pulls the next batches from DuckDB; at most two
    chunks per thread wait, so memory stays bounded when DuckDB is faster."""
    if threads <= 1:
        return [_aggregate(rows, starts, p) for rows, starts in _chunks(reader)]
    done: list[dict[str, np.ndarray | pa.Array]] = []
    waiting: collections.deque[Future[dict[str, np.ndarray | pa.Array]]] = collections.deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="behaviour") as pool:
        for rows, starts in _chunks(reader):
            if len(waiting) >= 2 * threads:
                done.append(waiting.popleft().result())
            waiting.append(pool.submit(_aggregate, rows, starts, p))
        done += [f.result() for f in waiting]
    return done


def _concat(values: list[np.ndarray | pa.Array]) -> pa.Array | pa.ChunkedArray:
    if isinstance(values[0], np.ndarray):
        return pa.array(np.concatenate(values) if len(values) > 1 else values[0])
    return pa.chunked_array(values)


def _check_order(cust: np.ndarray) -> None:
    """Each customer must be one run, in customer order: true when the history is read in its
    stored order (DuckDB's ``preserve_insertion_order``, set by ``connect``). Refuse rather
    than double-count."""
    if len(cust) > 1 and not np.all(cust[1:] > cust[:-1]):
        raise RuntimeError(
            "the history table was read out of customer order (is DuckDB's "
            "preserve_insertion_order off?): a customer would be counted twice"
        )
