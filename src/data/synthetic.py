"""Synthetic customers, transactions and events with planted segments and known truth.

Each customer belongs to a planted segment that sets the mean of a BG/NBD-style process:
repeat purchases arrive as a Poisson process (rate ``lambda_i``, scaled by a yearly seasonal
curve) and after each repeat purchase the customer drops out with probability ``p_i``. Order
values are Gamma-distributed around a customer mean (Gamma-Gamma). Segments also differ in
category mix, preferred channel, region and age. Everything is vectorised numpy, seeded and
deterministic; the truth (segment, alive at any date, future purchases) is returned apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "REGIONS",
    "SEGMENTS",
    "SegmentSpec",
    "SyntheticData",
    "cumulative_intensity",
    "generate",
]

CATEGORIES = ("electronics", "home", "fashion", "grocery", "toys", "books")
CHANNELS = ("web", "app", "store")
REGIONS = ("north", "south", "east", "west")


@dataclass(frozen=True)
class SegmentSpec:
    name: str
    share: float
    purchase_rate: float  # mean repeat purchases per day while alive
    dropout: float  # mean probability of dropping out after each repeat purchase
    spend_mean: float  # mean order value
    categories: tuple[float, ...]  # weights over CATEGORIES
    channels: tuple[float, ...]  # weights over CHANNELS
    regions: tuple[float, ...]  # weights over REGIONS
    age_mean: float


SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec(
        "loyal high spenders",
        0.15,
        1 / 15,
        0.02,
        150.0,
        (0.55, 0.25, 0.1, 0.0, 0.05, 0.05),
        (0.85, 0.1, 0.05),
        (0.4, 0.2, 0.2, 0.2),
        45,
    ),
    SegmentSpec(
        "frequent bargain hunters",
        0.25,
        1 / 8,
        0.04,
        18.0,
        (0.0, 0.2, 0.05, 0.7, 0.05, 0.0),
        (0.1, 0.85, 0.05),
        (0.2, 0.4, 0.2, 0.2),
        33,
    ),
    SegmentSpec(
        "occasional gift buyers",
        0.25,
        1 / 60,
        0.10,
        55.0,
        (0.05, 0.05, 0.1, 0.0, 0.6, 0.2),
        (0.2, 0.1, 0.7),
        (0.25, 0.25, 0.25, 0.25),
        52,
    ),
    SegmentSpec(
        "one-time buyers",
        0.20,
        1 / 400,
        0.60,
        30.0,
        (0.15, 0.15, 0.35, 0.1, 0.1, 0.15),
        (0.6, 0.3, 0.1),
        (0.2, 0.2, 0.4, 0.2),
        28,
    ),
    SegmentSpec(
        "lapsing regulars",
        0.15,
        1 / 25,
        0.25,
        70.0,
        (0.05, 0.3, 0.55, 0.05, 0.0, 0.05),
        (0.2, 0.2, 0.6),
        (0.2, 0.2, 0.2, 0.4),
        39,
    ),
)

RATE_SHAPE = 4.0  # Gamma shape of lambda_i around its segment mean (heterogeneity)
DROPOUT_CONCENTRATION = 20.0  # Beta a + b of p_i around its segment mean
SPEND_SHAPE_CUSTOMER = 6.0  # Gamma shape of a customer's mean order value around the segment's
SPEND_SHAPE_ORDER = 5.0  # Gamma shape of an order value around the customer's mean


def seasonality(day_of_year: np.ndarray) -> np.ndarray:
    """Relative purchase intensity by day of year: a summer dip and a December peak (mean ~1)."""
    d = np.asarray(day_of_year, dtype=float)
    return (
        1.0 + 0.2 * np.cos(2 * np.pi * d / 365.25) + 0.8 * np.exp(-0.5 * ((d - 350) / 10) ** 2)
    ) / 1.055


@dataclass
class SyntheticData:
    """Generated tables plus the truth; `start` and `end` bound the simulated window."""

    transactions: pd.DataFrame
    customers: pd.DataFrame
    events: pd.DataFrame
    truth: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp

    def alive_at(self, as_of: str | pd.Timestamp) -> pd.Series:
        """True where the customer has not dropped out by `as_of` (end of that day if a date)."""
        t = _end_of(as_of)
        death = self.truth.set_index("customer_id")["death_ts"]
        return death.isna() | (death > t)

    def future(self, as_of: str | pd.Timestamp, horizon_days: int) -> pd.DataFrame:
        """Purchase days and spend in (as_of, as_of + horizon] per customer (0 when none)."""
        t = _end_of(as_of)
        if t + pd.Timedelta(days=horizon_days) > self.end:
            raise ValueError(f"as_of + horizon goes past the simulated window ({self.end})")
        tx = self.transactions
        w = tx[(tx.ts > t) & (tx.ts <= t + pd.Timedelta(days=horizon_days))]
        g = w.assign(day=w.ts.dt.floor("D")).groupby("customer_id", observed=True)
        out = pd.DataFrame({"future_purchases": g.day.nunique(), "future_spend": g.amount.sum()})
        ids = self.truth.customer_id
        return out.reindex(ids, fill_value=0).rename_axis("customer_id")


def _end_of(as_of: str | pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(as_of)
    return t + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1) if t == t.normalize() else t


def cumulative_intensity(start: pd.Timestamp, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Calendar days (grid) and cumulative seasonal intensity ('operational time') on it."""
    grid = np.arange(days + 1, dtype=float)
    doy = ((start + pd.to_timedelta(grid, unit="D")).day_of_year).to_numpy(dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(seasonality(doy[:-1]))])
    return grid, cum


def _draw_customers(
    rng: np.random.Generator, n: int, segments: tuple[SegmentSpec, ...]
) -> dict[str, np.ndarray]:
    shares = np.array([s.share for s in segments])
    seg = rng.choice(len(segments), size=n, p=shares / shares.sum())
    rate = np.array([s.purchase_rate for s in segments])[seg]
    lam = rng.gamma(RATE_SHAPE, rate / RATE_SHAPE)
    pm = np.array([s.dropout for s in segments])[seg]
    p = rng.beta(pm * DROPOUT_CONCENTRATION, (1 - pm) * DROPOUT_CONCENTRATION)
    sm = np.array([s.spend_mean for s in segments])[seg]
    nu = rng.gamma(SPEND_SHAPE_CUSTOMER, sm / SPEND_SHAPE_CUSTOMER)
    return {"segment": seg, "lam": lam, "p": np.clip(p, 1e-4, 1 - 1e-4), "nu": nu}


def _choice_rows(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows`, draw an index from the weight vector weights[row]."""
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))
    return np.minimum((u[:, None] > cdf[rows]).sum(axis=1), weights.shape[1] - 1)


def generate(
    n_customers: int = 5000,
    *,
    seed: int = 42,
    start: dt.date | str = "2023-01-01",
    days: int = 730,
    acquisition_days: int = 365,
    with_events: bool = True,
    segments: tuple[SegmentSpec, ...] = SEGMENTS,
) -> SyntheticData:
    """Generate a customer base; same arguments give identical output.

    Customers make their first purchase uniformly in the first `acquisition_days`, then
    repeat purchases until they drop out or the window of `days` ends. `segments` plants the
    behaviour groups (default: `SEGMENTS`).
    """
    rng = np.random.default_rng(seed)
    start_ts = pd.Timestamp(start)
    c = _draw_customers(rng, n_customers, segments)
    t0 = rng.uniform(0, min(acquisition_days, days - 1), n_customers)
    grid, cum = cumulative_intensity(start_ts, days)
    op0, op_end = np.interp(t0, grid, cum), cum[-1]
    # repeat purchases: M ~ Poisson(lam * operational window); death after the J-th one
    m = rng.poisson(c["lam"] * (op_end - op0))
    j = rng.geometric(c["p"])
    n_rep = np.minimum(m, j)
    dies = j <= m
    # first n of m uniform order statistics on (op0, op_end) via exponential spacings
    owner = np.repeat(np.arange(n_customers), n_rep)
    e = rng.exponential(size=owner.size)
    cs = np.cumsum(e)
    offsets = np.concatenate([[0], np.cumsum(n_rep)[:-1]])
    base = np.concatenate([[0.0], cs])[offsets]
    s_k = cs - base[owner]
    s_n = np.zeros(n_customers)
    has = n_rep > 0
    s_n[has] = s_k[np.cumsum(n_rep)[has] - 1]
    total = s_n + rng.gamma(np.maximum(m - n_rep + 1, 1).astype(float))
    op_t = op0[owner] + (s_k / total[owner]) * (op_end - op0[owner])
    t_rep = np.interp(op_t, cum, grid)
    death = np.full(n_customers, np.nan)
    last = np.cumsum(n_rep) - 1
    death[dies & has] = t_rep[last[dies & has]]
    # all purchases: the first one at t0, then the repeats
    # (repeats are already grouped by customer and increasing in time: no sort needed)
    counts = n_rep + 1
    cust = np.repeat(np.arange(n_customers), counts)
    first = np.zeros(cust.size, dtype=bool)
    first[np.cumsum(counts) - counts] = True
    t = np.empty(cust.size)
    t[first], t[~first] = t0, t_rep
    amount = rng.gamma(SPEND_SHAPE_ORDER, c["nu"][cust] / SPEND_SHAPE_ORDER)
    seg_of = c["segment"][cust]
    cat_w = np.array([s.categories for s in segments])
    ch_w = np.array([s.channels for s in segments])
    pref = _choice_rows(rng, ch_w, c["segment"])
    channel = np.where(
        rng.random(cust.size) < 0.8, pref[cust], rng.integers(0, len(CHANNELS), cust.size)
    )
    category = _choice_rows(rng, cat_w, seg_of)
    ids = np.char.add("C", np.char.zfill(np.arange(1, n_customers + 1).astype(str), 7))
    ts = start_ts.to_datetime64() + (t * 86400).astype("timedelta64[s]")
    transactions = pd.DataFrame(
        {
            "customer_id": pd.Categorical.from_codes(cust, categories=ids),
            "ts": ts,
            "order_id": np.arange(1, cust.size + 1),
            "amount": np.round(amount, 2),
            "quantity": 1 + rng.poisson(amount / 40.0),
            "product_id": category * 100 + rng.integers(0, 50, cust.size),
            "category": pd.Categorical.from_codes(category, categories=list(CATEGORIES)),
            "channel": pd.Categorical.from_codes(channel, categories=list(CHANNELS)),
        }
    )
    customers = _customers(rng, c["segment"], ids, t0, start_ts, segments)
    events = (
        _events(rng, c, ids, t0, death, days, start_ts)
        if with_events
        else pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=str),
                "ts": pd.Series(dtype="datetime64[s]"),
                "event_type": pd.Series(dtype=str),
            }
        )
    )
    to_ts = start_ts.to_datetime64()
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "segment": c["segment"],
            "segment_name": [segments[s].name for s in c["segment"]],
            "purchase_rate": c["lam"],
            "dropout": c["p"],
            "spend_mean": c["nu"],
            "first_ts": to_ts + (t0 * 86400).astype("timedelta64[s]"),
            "death_ts": pd.to_datetime(to_ts + (death * 86400).astype("timedelta64[s]")),
            "n_repeat": n_rep,
        }
    )
    return SyntheticData(
        transactions, customers, events, truth, start_ts, start_ts + pd.Timedelta(days=days)
    )


def _customers(
    rng: np.random.Generator,
    seg: np.ndarray,
    ids: np.ndarray,
    t0: np.ndarray,
    start: pd.Timestamp,
    segments: tuple[SegmentSpec, ...],
) -> pd.DataFrame:
    reg_w = np.array([s.regions for s in segments])
    region = _choice_rows(rng, reg_w, seg)
    age = np.clip(rng.normal(np.array([s.age_mean for s in segments])[seg], 8), 18, 90)
    signup = t0 - rng.uniform(0, 30, seg.size)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "signup_ts": start.to_datetime64() + (signup * 86400).astype("timedelta64[s]"),
            "region": np.array(REGIONS)[region],
            "age": age.round().astype(int),
            "gender": rng.choice(np.array(["female", "male"]), seg.size),
        }
    )


def _events(
    rng: np.random.Generator,
    c: dict[str, np.ndarray],
    ids: np.ndarray,
    t0: np.ndarray,
    death: np.ndarray,
    days: int,
    start: pd.Timestamp,
) -> pd.DataFrame:
    """Browsing, clicks and support contacts: frequent while alive, rare after dropping out."""
    end_alive = np.where(np.isnan(death), days, death)
    n_alive = rng.poisson(c["lam"] * (end_alive - t0))
    n_dead = rng.poisson(0.01 * (days - end_alive))
    who = np.concatenate(
        [np.repeat(np.arange(ids.size), n_alive), np.repeat(np.arange(ids.size), n_dead)]
    )
    lo = np.concatenate([np.repeat(t0, n_alive), np.repeat(end_alive, n_dead)])
    hi = np.concatenate([np.repeat(end_alive, n_alive), np.repeat(np.full(ids.size, days), n_dead)])
    t = lo + rng.random(who.size) * (hi - lo)
    kinds = np.array(["browse", "click", "support"])
    support = np.where(c["p"][who] > 0.2, 0.15, 0.04)  # customers prone to lapse complain more
    u = rng.random(who.size)
    kind = np.where(u < support, 2, np.where(u < support + 0.3, 1, 0))
    order = np.lexsort((t, who))
    return pd.DataFrame(
        {
            "customer_id": pd.Categorical.from_codes(who[order], categories=ids),
            "ts": start.to_datetime64() + (t[order] * 86400).astype("timedelta64[s]"),
            "event_type": pd.Categorical.from_codes(kind[order], categories=list(kinds)),
        }
    )
