"""Reasons in words: each customer's largest contributions, rendered from the feature values
("last purchase 142 days ago (usual gap 30 days)", "spend in the last 90 days down 80 %").

Contributions come from the scorer: exact TreeSHAP for LightGBM, linear terms for logistic
models. A BTYD forecast or a carried-forward rate is a closed-form function of a few inputs,
not a sum of terms, so its reasons are those inputs' standardised deviations from the
population (log scale), signed by the direction in which each moves the score. Contributions
of features that describe one fact (days since the last purchase and that as a multiple of the
usual gap) are added together, which keeps SHAP values additive.

Each reason starts with ↑ (raises the score: churn risk or value) or ↓ (lowers it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_ml.features.arrays import first_rows, list_array, round_bits
from customer_ml.features.catalogue import describe
from customer_ml.models.scorers import Scorer

__all__ = ["ReasonBase", "driver_columns", "render_reasons", "score_contributions"]

# feature -> the feature whose reason it shares (BG/NBD and Pareto/NBD forecast one thing)
GROUPS = {
    "gap_ratio": "recency_days",
    "pnbd_p_alive": "bgnbd_p_alive",
    "pnbd_p_any": "bgnbd_p_any",
    "pnbd_expected_purchases": "bgnbd_expected_purchases",
    "pnbd_gg_revenue": "bgnbd_gg_revenue",
}
# how a BTYD / rate forecast moves with each input: +1 raises the score, -1 lowers it
DRIVER_SIGNS = {
    "churn": {"recency_days": 1, "gap_ratio": 1, "T": 1, "frequency": -1, "recency": -1},
    "ltv": {
        "recency_days": -1,
        "frequency": 1,
        "recency": 1,
        "monetary_value": 1,
        "monetary_total": 1,
        "n_purchases": 1,
        "T": -1,
    },
}


class ReasonBase:
    """Population statistics for driver-based reasons (median and spread of log1p values),
    from the scored population (the feature store), so one customer scored by the service
    gets the reasons batch scoring gives it."""

    def __init__(self, population: pd.DataFrame) -> None:
        cols = driver_columns(population.columns)
        logs = {c: np.log1p(population[c].to_numpy(float).clip(min=0)) for c in cols}
        self.center_ = {c: float(np.nanmedian(v)) if len(v) else 0.0 for c, v in logs.items()}
        self.scale_ = {c: float(np.nanstd(v)) or 1.0 if len(v) else 1.0 for c, v in logs.items()}

    @classmethod
    def from_stats(cls, center: dict[str, float], scale: dict[str, float]) -> ReasonBase:
        """From each driver column's median and population standard deviation of
        ``log1p(max(value, 0))`` (as a distributed engine computes them; a zero spread is 1)."""
        base = cls.__new__(cls)
        base.center_ = dict(center)
        base.scale_ = {c: float(v) or 1.0 for c, v in scale.items()}
        return base


def driver_columns(columns: Any) -> list[str]:
    """The columns of a population that driver-based reasons standardise."""
    return sorted({c for signs in DRIVER_SIGNS.values() for c in signs} & set(columns))


def _is_additive(contrib: pd.DataFrame) -> bool:
    return len([c for c in contrib.columns if c != "base"]) > 1


def score_contributions(
    scorer: Scorer,
    frame: pd.DataFrame,
    *,
    task: str,
    base: ReasonBase,
    contrib: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per customer and feature, the signed contribution behind the score (no ``base``);
    `contrib` is the scorer's `contributions(frame)` when the caller has it already."""
    contrib = scorer.contributions(frame) if contrib is None else contrib
    if _is_additive(contrib):
        names = [str(c) for c in contrib.columns if c != "base"]
        values = contrib[names].to_numpy(float, copy=True)
    else:
        signs = {c: s for c, s in DRIVER_SIGNS[task].items() if c in frame and c in base.center_}
        names = list(signs)
        values = np.empty((len(frame), len(names)))
        for k, (c, s) in enumerate(signs.items()):
            logs = np.log1p(frame[c].to_numpy(float).clip(min=0))
            values[:, k] = s * (logs - base.center_[c]) / base.scale_[c]
    # in numpy, not pandas: a 1-row frame costs pandas ~10 ms of block bookkeeping per task
    at = {c: k for k, c in enumerate(names)}
    merged = {at[c] for c, into in GROUPS.items() if c in at and into in at}
    for col, into in GROUPS.items():
        if col in at and into in at:
            values[:, at[into]] += values[:, at[col]]
    keep = [k for k in range(len(names)) if k not in merged]
    if merged:
        values = values[:, keep]
    values[np.isnan(values)] = 0.0
    # (pandas 3 copies an array passed to DataFrame unless told not to)
    return pd.DataFrame(values, columns=[names[k] for k in keep], index=frame.index, copy=False)


# ---- rendering ---------------------------------------------------------------------------

# format specs of the values; amounts show cents below WHOLE_MONEY and whole units from there
# ("average order 4.99", "total spend 12,360"): cents of large sums are noise in a sentence
INT, MONEY, PCT, DEC = ",.0f", ",.2f", ".0%", ".2f"
WHOLE_MONEY = 100.0

# (pattern, template with {v} and the pattern's groups as {0}, {1}, value format)
TEMPLATES: tuple[tuple[str, str, str], ...] = (
    (r"n_purchases", "{v} purchases so far", INT),
    (r"frequency", "{v} repeat purchases", INT),
    (r"T", "customer for {v} days", INT),
    (r"recency", "{v} days between first and last purchase", INT),
    (r"ipt_mean_days", "usual gap between purchases {v} days", INT),
    (r"ipt_std_days", "gaps between purchases vary by {v} days", INT),
    (r"last_gap_days", "gap before the last purchase {v} days", INT),
    (r"monetary_mean", "average order {v}", MONEY),
    (r"monetary_std", "order value varies by {v}", MONEY),
    (r"monetary_value", "average repeat order {v}", MONEY),
    (r"monetary_total", "total spend {v}", MONEY),
    (r"purchases_(\d+)d", "{v} purchases in the last {0} days", INT),
    (r"spend_(\d+)d", "spend in the last {0} days {v}", MONEY),
    (r"dow_share_(\w+)", "{v} of purchases on {0}", PCT),
    (r"category_share_(\w+)", "{v} of items in {0}", PCT),
    (r"channel_share_(\w+)", "{v} of items through {0}", PCT),
    (r"return_rate", "{v} of items returned", PCT),
    (r"items_per_order", "{v} items per order", DEC),
    (r"days_since_last_event", "last activity {v} days ago", INT),
    (r"events_(\d+)d", "{v} activity events in the last {0} days", INT),
    (r"events_(\w+?)_(\d+)d", "{v} {0} events in the last {1} days", INT),
    (r"days_since_signup", "signed up {v} days ago", INT),
    (r"(bgnbd|pnbd)_p_alive", "purchase pattern: {v} likely still active", PCT),
    (r"(bgnbd|pnbd)_p_any", "{v} chance of buying again within the horizon", PCT),
    (r"(bgnbd|pnbd)_expected_purchases", "expected {v} purchases within the horizon", DEC),
    (r"(bgnbd|pnbd)_gg_revenue", "expected spend {v} within the horizon", MONEY),
    (r"gg_expected_spend", "expected order value {v}", MONEY),
)


def _trend(kind: str, w: str) -> Callable[[float], str]:
    what = "purchases" if kind == "purchases" else "spend"

    def fmt(t: float) -> str:
        if t >= 1:
            return f"{what} in the last {w} days, none in the {w} before"
        if t <= -1:
            return f"no {what} in the last {w} days (some in the {w} before)"
        change = 2 * t / (1 - t)  # t = (a - b) / (a + b)  =>  a / b - 1
        if abs(change) < 0.005:
            return f"{what} in the last {w} days level with the {w} before"
        word = "up" if change > 0 else "down"
        return f"{what} in the last {w} days {word} {abs(change):.0%} on the {w} before"

    return fmt


@dataclass(frozen=True)
class _Renderer:
    """How one feature's values become text: `one` formats a value; `spec` is its format
    spec when the value is printed with a plain one (else "")."""

    one: Callable[[Any], str]
    spec: str = ""


def _template(template: str, spec: str, groups: list[str], horizon: str) -> _Renderer:
    """One format call per value: the groups and the horizon filled in, {v} as the spec
    (for amounts, as cents below WHOLE_MONEY and whole units from there)."""
    text = template.replace("the horizon", horizon)
    for i, g in enumerate(groups):
        text = text.replace(f"{{{i}}}", g)
    before, after = (_braces(t) for t in text.split("{v}"))
    one = (before + f"{{:{spec}}}" + after).format
    if spec != MONEY:
        return _Renderer(one, spec)
    whole = (before + f"{{:{INT}}}" + after).format
    return _Renderer(lambda v: one(v) if abs(v) < WHOLE_MONEY else whole(v), spec)


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _renderer(name: str, horizon: str) -> _Renderer:
    """How the values of feature `name` are put in words."""
    m = re.fullmatch(r"(purchases|spend)_trend_(\d+)d", name)
    if m:
        return _Renderer(_trend(m.group(1), m.group(2)))
    for pattern, template, spec in TEMPLATES:
        m = re.fullmatch(pattern, name)
        if m:
            groups = [g.replace("_", " ") for g in m.groups()]
            return _template(template, spec, groups, horizon)
    try:
        text = describe(name)[0]
    except KeyError:
        text = name.replace("_", " ")
    return _Renderer(f"{_braces(text.replace('the horizon', horizon))}: {{:.3g}}".format)


def _whole(x: np.ndarray) -> np.ndarray:
    """A key equal for two values exactly when "{:.0f}" prints them alike: both round half
    to even on the exact binary value, and "-0" differs from "0"."""
    return 2 * np.rint(x) + np.signbit(x)


ARROWS = ("↓ ", "↑ ")  # lowers, raises the score


def _cents(x: np.ndarray) -> np.ndarray:
    """A key equal for two amounts when ``"{:.2f}"`` prints them alike: `_whole` of the cents
    where ``x * 100`` is far enough from a half that rounding it equals rounding the exact
    product; elsewhere (and for NaN, infinities, huge values) a key of the amount's own."""
    scaled = x * 100
    with np.errstate(invalid="ignore"):
        half = np.abs(scaled - np.floor(scaled) - 0.5)
        safe = (np.abs(scaled) < 2.0**50) & (half > 4 * np.spacing(np.abs(scaled)))
    key = np.where(safe, _whole(scaled), 0.0).astype(complex)
    key.imag = np.where(safe, 0, np.arange(1, len(x) + 1))
    return key


def _distinct(
    values: np.ndarray, render: Callable[[Any], str], key: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Per row, a code into the returned texts: ``render(value)`` once per distinct `key`
    (values with one key render alike)."""
    codes, uniques = pd.factorize(key, use_na_sentinel=False)
    return codes, [render(v) for v in values[first_rows(codes, len(uniques))].tolist()]


def _each_distinct(
    values: np.ndarray, render: Callable[[Any], str], key: np.ndarray, up: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Per row, a code into the returned texts: its arrow (``up``: the contribution raises
    the score) and ``render(value)``, rendered once per distinct pair of `key` and arrow."""
    codes, _ = pd.factorize(key, use_na_sentinel=False)
    codes, uniques = pd.factorize(2 * codes + up)
    first = first_rows(codes, len(uniques))
    texts = [
        ARROWS[u] + render(v)
        for v, u in zip(values[first].tolist(), up[first].tolist(), strict=True)
    ]
    return codes, texts


def _recency(days: np.ndarray, gap: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """ "last purchase 142 days ago (usual gap 30 days)": each distinct day count and gap
    rendered once, then joined once per distinct pair and arrow (codes and texts)."""
    head, heads = _distinct(days, "last purchase {:,.0f} days ago".format, _whole(days))
    tail, tails = _distinct(
        gap,
        lambda g: f" (usual gap {g:,.0f} days)" if g == g else " (one purchase so far)",
        _whole(gap),  # NaN (one purchase so far) is one key of its own
    )
    codes, uniques = pd.factorize((head * len(tails) + tail) * 2 + up)
    pair, arrow = np.divmod(uniques, 2)
    h, t = np.divmod(pair, len(tails))
    texts = [
        ARROWS[u] + heads[a] + tails[b]
        for a, b, u in zip(h.tolist(), t.tolist(), arrow.tolist(), strict=True)
    ]
    return codes, texts


def _unknown(name: str) -> str:
    """ "usual gap unknown": the catalogue's name for the feature (its description up to a
    colon, comma or parenthesis), else the column name in words."""
    try:
        text = describe(name)[0]
    except KeyError:
        text = name.replace("_", " ")
    return re.split(r":|,| \(", text)[0] + " unknown"


def _render_column(
    name: str, frame: pd.DataFrame, rows: np.ndarray, contrib: np.ndarray, horizon: str
) -> tuple[np.ndarray, list[str]]:
    """The texts (with arrows) of feature `name` for `rows`, whose contributions are
    `contrib`: per row a code into the returned list of distinct texts."""
    up = contrib > 0
    if name == "log_p_purchase":  # the two-part LTV model's purchase part: log P(purchase)
        p = np.exp(contrib)
        text = ("{:.0%} chance of buying within " + horizon).format
        return _each_distinct(p, text, _whole(p * 100), up)
    if name not in frame:
        return _each_distinct(up, lambda _: name.replace("_", " "), up, up)
    if name == "recency_days" and "ipt_mean_days" in frame:
        days = frame["recency_days"].to_numpy(float)[rows]
        return _recency(days, frame["ipt_mean_days"].to_numpy(float)[rows], up)
    if name == "recency_days":
        days = frame[name].to_numpy(float)[rows]
        return _each_distinct(days, "last purchase {:,.0f} days ago".format, _whole(days), up)
    col = frame[name]
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        label = name.removeprefix("attr_").replace("_", " ")
        v = col.to_numpy(object)[rows]
        return _each_distinct(v, lambda x: f"{label}: {x}", v, up)
    how = _renderer(name, horizon)
    # to 40 bits: a mean of amounts summed in another order (another engine) renders alike,
    # also on a half cent
    values = round_bits(col.to_numpy(float)[rows])
    missing = np.isnan(values)
    if how.spec in (INT, PCT):
        key = _whole(values if how.spec == INT else values * 100)
    elif how.spec == MONEY:  # cents below WHOLE_MONEY, whole units from there
        key = _whole(values) - 1j  # whole units; imaginary part -1: never a cents key
        small = np.abs(values) < WHOLE_MONEY
        key[small] = _cents(values[small])
    elif how.spec == DEC:
        key = _cents(values)
    else:  # the exact value: its bits (factorizing floats would merge -0.0 into 0.0)
        key = np.where(missing, np.nan, values).view(np.int64)  # one NaN
    codes, texts = _each_distinct(values, how.one, key, up)
    if missing.any():
        unknown = _unknown(name)
        codes[missing] = len(texts) + up[missing]
        texts += [ARROWS[0] + unknown, ARROWS[1] + unknown]
    return codes, texts


def render_reasons(
    contrib: pd.DataFrame, frame: pd.DataFrame, *, n: int = 3, horizon_days: int = 90
) -> pd.api.extensions.ExtensionArray:
    """The `n` largest contributions by size per customer, rendered from `frame`'s values,
    each with ↑ or ↓; contributions of exactly 0 are left out. One list of texts per row, as
    an Arrow list array (each row's element reads as a Python list): the texts are rendered
    once per distinct value and copied in Arrow, with no Python object per row."""
    values = contrib.to_numpy(float)
    # a column that is 0 for every customer is no one's reason: only the others are ranked,
    # row by row in contiguous memory (argmax along rows of a column-major frame is slow)
    used = np.flatnonzero(np.any(values != 0, axis=0))
    names = contrib.columns[used]
    values = np.ascontiguousarray(values if len(used) == values.shape[1] else values[:, used])
    k = min(n, values.shape[1])
    top = np.empty((len(values), k), np.int64)
    size_left = np.abs(values)
    for i in range(k):  # the largest by size, first column on ties (a stable sort's order)
        top[:, i] = np.argmax(size_left, axis=1)
        np.put_along_axis(size_left, top[:, i : i + 1], -1.0, axis=1)
    codes = np.empty(top.size, np.int64)
    texts: list[str] = []
    flat = top.ravel()
    horizon = f"the next {horizon_days} days"
    order = np.argsort(flat, kind="stable")  # the places of each column, in row order
    cols = flat[order]
    starts = np.flatnonzero(np.diff(cols, prepend=-1)).tolist()  # each column's first place
    for lo, hi in itertools.pairwise([*starts, len(cols)]):
        where = order[lo:hi]
        rows = where // k
        j = cols[lo]
        column, distinct = _render_column(str(names[j]), frame, rows, values[rows, j], horizon)
        codes[where] = column + len(texts)
        texts += distinct
    kept = np.take_along_axis(values, top, axis=1) != 0
    return list_array(kept.sum(axis=1), codes[kept.ravel()], texts)
