"""Point-in-time customer behaviour vectors, computed in DuckDB SQL.

`build_snapshot` uses rows with ``ts <= as_of`` only (a date means the end of that day), so
appending later rows never changes a snapshot. Day counts are measured from the as_of day.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd

from customer_ml.config import FeaturesConfig
from customer_ml.data.dataset import Dataset
from customer_ml.data.io import arrow_frame, fetch_frame, fetch_one, literal, quote
from customer_ml.errors import DataError
from customer_ml.features.behaviour import behaviour_table
from customer_ml.features.catalogue import slug
from customer_ml.features.history import codes, prepare_history, with_ids
from customer_ml.features.timing import Cutoff, cutoff

__all__ = ["behaviour_sql", "build_snapshot", "slug", "top_values", "top_values_sql"]

_ARROWS = "_behaviour_arrays"  # the arrays engine's vector, joined with events and attributes


def _count(cond: str) -> str:
    """Rows meeting `cond`. (DuckDB runs ``count_if`` about twice as fast as
    ``count(*) FILTER (WHERE ...)`` here; it returns a HUGEINT, hence the cast, and NULL
    when `cond` is NULL on every row, e.g. a customer whose rows have no category.)"""
    return f"coalesce(CAST(count_if({cond}) AS BIGINT), 0)"


def _where(expr: str, *conds: str, otherwise: str = "") -> str:
    """`expr` on rows meeting every non-empty condition, `otherwise` (or NULL) elsewhere; with
    no condition left, `expr` itself: no CASE is paid for a condition known to hold."""
    cond = " AND ".join(c for c in conds if c)
    if not cond:
        return expr
    return f"CASE WHEN {cond} THEN {expr} {'ELSE ' + otherwise + ' ' if otherwise else ''}END"


def top_values_sql(table: str, col: str, c: Cutoff, n: int) -> str:
    """The `n` most frequent values of a column in rows up to the cutoff (DuckDB, Spark)."""
    return (
        f"SELECT {col}, count(*) FROM {table} WHERE ts <= {c.sql_end()} AND {col} IS NOT NULL "
        f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(n)}"
    )


def top_values(ds: Dataset, table: str, col: str, c: Cutoff, n: int) -> list[str]:
    """The `n` most frequent values of a column in rows up to the cutoff (point in time)."""
    rows = ds.con.execute(top_values_sql(table, col, c, n)).fetchall()
    return [str(r[0]) for r in rows]


def _windows_sql(
    c: Cutoff, windows: tuple[int, ...], *, amount: bool, start: dt.date | None, buy: str
) -> list[str]:
    """Purchases and spend in the last `w` days, and their trend against the `w` days before.

    Each window edge is one single-comparison aggregate ("since `t` days ago"), shared by the
    windows that meet there; the `w` days before a window are the difference of two edges.
    (About 0.35 s less per 10M rows than one aggregate per window with two comparisons.) The
    spend sums add 0 for other rows instead of NULL: no NULL bookkeeping, the same sum. An
    edge before the first transaction (`start`) holds every row: the all-time aggregates serve.
    `buy` is the condition for a purchase row ("" when there are no returns)."""
    d = c.sql_day()
    edges = sorted({t for w in windows for t in (w, 2 * w)})
    n, s = {}, {}
    for t in edges:
        covered = start is not None and c.day.toordinal() - t < start.toordinal()
        since = "" if covered else f"day > {d} - {t}"
        n[t] = _count(f"new_purchase AND {since}" if since else "new_purchase")
        s[t] = f"sum({_where('amount', buy, since, otherwise='0')})"
    parts = []
    for w in windows:
        n_before = f"({n[2 * w]} - {n[w]})"
        parts.append(f"{n[w]} AS purchases_{w}d")
        parts.append(
            f"({n[w]} - {n_before}) / greatest({n[w]} + {n_before}, 1) AS purchases_trend_{w}d"
        )
        if amount:
            s_before = f"({s[2 * w]} - {s[w]})"
            parts.append(f"{s[w]} AS spend_{w}d")
            parts.append(
                f"({s[w]} - {s_before}) / greatest(abs({s[w]}) + abs({s_before}), 1e-9)"
                f" AS spend_trend_{w}d"
            )
    return parts


def _behaviour_sql(
    ds: Dataset,
    c: Cutoff,
    windows: tuple[int, ...],
    categories: list[str],
    channels: list[str],
) -> str:
    """The behaviour aggregation over DuckDB's `history` (see `behaviour_sql`)."""
    table = prepare_history(ds)
    start, returns = fetch_one(
        ds.con, f"SELECT min(day), bool_or(is_return) FROM {table} WHERE ts <= {c.sql_end()}"
    )
    cols = set(ds.tx_columns)
    sql = behaviour_sql(
        table,
        c,
        cols=cols,
        start=start,
        returns=bool(returns),
        windows=windows,
        categories=categories,
        channels=channels,
        codes={col: codes(ds, col) for col in ("category", "channel") if col in cols},
        key="cust",
    )
    return with_ids(sql)  # the history holds customer numbers


def behaviour_sql(
    table: str,
    c: Cutoff,
    *,
    cols: set[str],
    start: dt.date | None,
    returns: bool,
    windows: tuple[int, ...],
    categories: list[str],
    channels: list[str],
    spark: bool = False,
    codes: dict[str, dict[str, int]] | None = None,
    key: str = "customer_id",
) -> str:
    """Per customer, one aggregation over the history `table` (rows with ts <= the cutoff
    only): RFM, BTYD inputs, inter-purchase times, windows and trends, day of week, basket,
    variety, shares and returns. `start` is the first day up to the cutoff and `returns`
    whether a return is among those rows. The same text runs in DuckDB and, with `spark`
    (``day`` as an integer day number, `c` a cutoff that writes it so), in Spark SQL. With
    `codes` (per column, each value's code), the category and channel shares read the
    table's ``category_code`` and ``channel_code`` instead of the text. `key` is the column
    that names the customer."""

    def share(col: str, value: str) -> str:
        if codes is None:
            return _count(f"{col} = {literal(value)}")
        code = codes[col].get(value)
        return _count(f"{col}_code = {code}" if code is not None else "false")

    d = c.sql_day()
    amt = "amount" in cols
    n = _count("new_purchase")
    # every purchase after the first opens with a gap, so count(gap) = n - 1
    ipt_mean = f"sum(gap) / nullif({n} - 1, 0)"
    buy = "NOT is_return" if returns else ""  # no returns up to the cutoff: every row is bought
    last, first = f"max({_where('day', buy)})", f"min({_where('day', buy)})"
    # the gap of the last row that has one (Spark's max_by does not skip a NULL gap itself)
    last_gap = "max_by(gap, CASE WHEN gap IS NOT NULL THEN ts END)" if spark else "arg_max(gap, ts)"
    parts = [
        f"{n} AS n_purchases",
        f"{n} - 1 AS frequency",
        f"{d} - {last} AS recency_days",
        f"{d} - {first} AS T",
        f"{last} - {first} AS recency",
        f"{ipt_mean} AS ipt_mean_days",
        f"CASE WHEN {n} > 2 THEN sqrt(greatest(sum(gap * gap) - power(sum(gap), 2) / ({n} - 1),"
        f" 0) / ({n} - 2)) END AS ipt_std_days",
        f"{last_gap} AS last_gap_days",  # rows with a NULL gap are skipped
        f"({d} - {last}) / nullif({ipt_mean}, 0) AS gap_ratio",
    ]
    if amt:
        # amounts are never NULL (loading refuses them): adding 0 for other rows is the same sum
        spent = f"sum({_where('amount', buy, otherwise='0')})"
        squares = f"sum({_where('amount_sq', buy, otherwise='0')})"
        opening = "sum(CASE WHEN first_purchase THEN amount ELSE 0 END)"
        parts += [
            f"{spent} / {n} AS monetary_mean",
            f"CASE WHEN {n} > 1 THEN sqrt(greatest({squares} - power({spent}, 2) / {n}, 0)"
            f" / ({n} - 1)) END AS monetary_std",
            f"CASE WHEN {n} > 1 THEN ({spent} - {opening}) / ({n} - 1) ELSE 0 END"
            " AS monetary_value",
        ]
    parts += _windows_sql(c, windows, amount=amt, start=start, buy=buy)
    days = [_count(f"new_purchase AND dow = {k}") for k in range(1, 7)]
    days.append(f"({n} - {' - '.join(days)})")  # Sunday: the purchases on no other day
    for name, count in zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), days, strict=True):
        parts.append(f"{count} / {n} AS dow_share_{name}")
    rate = f"{_count('is_return')} / count(*)" if returns else "CAST(0 AS DOUBLE)"
    parts.append(f"{rate} AS return_rate")
    if amt:
        parts.append("sum(amount) AS monetary_total")  # with returns (negative amounts)
    if "quantity" in cols:
        per = _count("new_order") if "order_id" in cols else n
        quantity = f"sum({_where('quantity', buy)})"
        parts.append(f"{quantity} / nullif({per}, 0) AS items_per_order")
    if "order_id" in cols:
        parts.append(f"{_count('new_order')} AS n_orders")
    if "product_id" in cols:
        parts.append(f"{_count('new_product')} AS distinct_products")
    if "category" in cols:
        parts.append(f"{_count('new_category')} AS distinct_categories")
        parts += [
            f"{share('category', v)} / count(*) AS category_share_{slug(v)}" for v in categories
        ]
    parts += [f"{share('channel', v)} / count(*) AS channel_share_{slug(v)}" for v in channels]
    having = f" HAVING {last} IS NOT NULL" if returns else ""  # a purchase, not only returns
    return (
        f"SELECT {key}, {', '.join(parts)} FROM {table} "
        f"WHERE ts <= {c.sql_end()} GROUP BY {key}{having}"
    )


def _events_sql(c: Cutoff, types: list[str], windows: tuple[int, ...]) -> str:
    parts = [f"{c.sql_day()} - CAST(max(ts) AS DATE) AS days_since_last_event"]
    for w in windows:
        since = f"ts > {c.sql_end()} - INTERVAL {int(w)} DAY"
        parts.append(f"{_count(since)} AS events_{w}d")
        parts += [
            f"{_count(f'event_type = {literal(t)} AND {since}')} AS events_{slug(t)}_{w}d"
            for t in types
        ]
    return (
        f"SELECT customer_id, {', '.join(parts)} FROM events WHERE ts <= {c.sql_end()} "
        "GROUP BY customer_id"
    )


def _attributes_sql(ds: Dataset, c: Cutoff, cfg: FeaturesConfig) -> str:
    types = dict(
        ds.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'customers'"
        ).fetchall()
    )
    parts = []
    for col in ds.customer_columns:
        if col in ("customer_id", "churned"):
            continue
        if col == "signup_ts":
            parts.append(
                f"CASE WHEN signup_ts <= {c.sql_end()} THEN {c.sql_day()} - "
                "CAST(signup_ts AS DATE) END AS days_since_signup"
            )
            continue
        parts.append(f"{quote(col)} AS {quote('attr_' + slug(col))}")
        if col == cfg.age_column and types.get(col) in ("DOUBLE", "BIGINT", "INTEGER"):
            edges = cfg.age_bands
            cases = " ".join(
                f"WHEN {quote(col)} < {hi} THEN '{lo}-{hi - 1}'"
                for lo, hi in itertools.pairwise(edges)
            )
            parts.append(
                f"CASE WHEN {quote(col)} IS NULL THEN NULL WHEN {quote(col)} < {edges[0]} "
                f"THEN '<{edges[0]}' {cases} ELSE '{edges[-1]}+' END AS attr_age_band"
            )
    return f"SELECT customer_id, {', '.join(parts)} FROM customers" if parts else ""


def build_snapshot(
    data: Dataset,
    *,
    as_of: str | dt.date | pd.Timestamp,
    config: FeaturesConfig | None = None,
    categories: list[str] | None = None,
    channels: list[str] | None = None,
    event_types: list[str] | None = None,
) -> pd.DataFrame:
    """One row per customer with a purchase at or before `as_of`: the behaviour vector.

    Uses rows with ``ts <= as_of`` only (a date means the end of that day). `categories`,
    `channels` and `event_types` fix the share/count columns (default: the most frequent
    values up to `as_of`), so snapshots at several dates can share one schema. Columns are
    described in :func:`customer_ml.features.catalogue.feature_catalogue`.
    """
    if not data.has_transactions:
        raise DataError("a behaviour snapshot needs transactions (this data has none)")
    cfg = config or FeaturesConfig()
    c = cutoff(as_of)
    cols = set(data.tx_columns)
    if categories is None:
        categories = (
            top_values(data, "transactions", "category", c, cfg.top_categories)
            if ("category" in cols)
            else []
        )
    if channels is None:
        channels = top_values(data, "transactions", "channel", c, 10) if "channel" in cols else []
    arrays = cfg.engine == "arrays"
    sources = [
        f"SELECT * FROM {_ARROWS}"
        if arrays
        else _behaviour_sql(data, c, cfg.windows, categories, channels)
    ]
    if data.has_events:
        if event_types is None:
            event_types = top_values(data, "events", "event_type", c, 10)
        sources.append(_events_sql(c, event_types, cfg.event_windows))
    if data.has_customers:
        attrs = _attributes_sql(data, c, cfg)
        if attrs:
            sources.append(attrs)
    if arrays:
        behaviour = behaviour_table(data, c, cfg.windows, categories, channels)
        if len(sources) == 1:  # in customer order already
            return arrow_frame(behaviour)
        data.con.register(_ARROWS, behaviour)
    joins = " ".join(
        f"LEFT JOIN ({sql}) s{i} USING (customer_id)" for i, sql in enumerate(sources[1:], 1)
    )
    sql = f"SELECT * FROM ({sources[0]}) s0 {joins} ORDER BY customer_id"
    try:
        snap = fetch_frame(data.con, sql)
    finally:
        if arrays:
            data.con.unregister(_ARROWS)
    if data.has_events:
        ev = [col for col in snap.columns if col.startswith("events_")]
        snap[ev] = snap[ev].fillna(0)
    return snap
