"""Layered tags from explicit rules in config: value tier, lifecycle stage, RFM, basic, behaviour.

Every threshold lives in `TagsConfig`, so changing a rule needs no code change. All tags are
computed from one snapshot (rows up to its as_of), so they are point-in-time too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from customer_ml.config import TagsConfig
from customer_ml.features.arrays import first_rows, round_bits, text_array

__all__ = [
    "LIFECYCLE_STAGES",
    "RFM_SEGMENTS",
    "TagReference",
    "build_tags",
    "reference_columns",
    "rfm_segment",
    "tag_columns",
]

LIFECYCLE_STAGES = ("new", "active", "at-risk", "lapsed", "reactivated")

#: (name, R scores, FM scores): the standard RFM map; the first match wins, all 25 cells covered
RFM_SEGMENTS: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Champions", (4, 5), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential loyalist", (4, 5), (2, 3)),
    ("New", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (3,)),
    ("About to sleep", (3,), (1, 2)),
    ("Cannot lose them", (1, 2), (5,)),
    ("At risk", (1, 2), (3, 4)),
    ("Hibernating", (2,), (1, 2)),
    ("Lost", (1,), (1, 2)),
)


class TagReference:
    """The population that percentile-based tags (RFM quintiles, value score) rank against:
    the distinct non-missing values per column with how many values lie at or below each, so
    one new customer is ranked in O(log n); and the
    attribute columns that make basic tags (text with < 20 levels in the population).

    Ranking a snapshot against its own reference equals pandas' ``rank(pct=True)`` with
    average ties, so batch scoring and the service tag a known customer identically.
    `from_counts` builds it from the distinct values and their counts alone."""

    def __init__(self, snapshot: pd.DataFrame, config: TagsConfig | None = None) -> None:
        cfg = config or TagsConfig()
        counts = {}
        for c in reference_columns(snapshot.columns, cfg):
            v = pd.to_numeric(snapshot[c], errors="coerce").dropna().to_numpy(float)
            counts[c] = np.unique(v, return_counts=True)
        self._set(counts, _basic_columns(snapshot, cfg))

    @classmethod
    def from_counts(
        cls, counts: dict[str, tuple[np.ndarray, np.ndarray]], basic: list[str]
    ) -> TagReference:
        """A reference from each column's distinct non-missing values and their counts (as
        a distributed engine computes them) and the basic-tag columns."""
        ref = cls.__new__(cls)
        ref._set(counts, basic)
        return ref

    def _set(self, counts: dict[str, tuple[np.ndarray, np.ndarray]], basic: list[str]) -> None:
        # per column: the distinct values, ascending, and how many values are <= each
        self.values_ = {}
        self.below_or_at_ = {}
        for c, (values, n) in counts.items():
            distinct, at = np.unique(round_bits(values), return_inverse=True)
            per = np.bincount(at.ravel(), weights=np.asarray(n, float), minlength=len(distinct))
            self.values_[c] = distinct
            self.below_or_at_[c] = np.cumsum(per.astype(np.int64))
        self.basic_ = basic

    def pct(self, values: np.ndarray, column: str, *, ascending: bool = True) -> np.ndarray:
        """Average-tie percentile rank of `values` within the reference column (NaN stays)."""
        ref, cum = self.values_[column], self.below_or_at_[column]
        v = round_bits(values)
        total = int(cum[-1]) if len(cum) else 0
        n = max(total, 1)
        at_or_below = np.concatenate([[0], cum])
        at = np.searchsorted(ref, v, side="left")
        # the reference values are distinct: those equal to v are at `at` or none
        equal = ref[np.minimum(at, len(ref) - 1)] == v if len(ref) else np.zeros(len(v), bool)
        lo = at_or_below[at]  # reference values below v
        hi = at_or_below[at + equal]  # and those equal to it
        if not ascending:  # rank of -v: values above count as below
            lo, hi = total - hi, total - lo
        return np.where(np.isnan(v), np.nan, (lo + hi + 1) / 2 / n)


def reference_columns(columns: Any, config: TagsConfig) -> list[str]:
    """The columns percentile-based tags rank against a population."""
    wanted = ["recency_days", "n_purchases", "monetary_total", *config.value_tier.weights]
    return [c for c in dict.fromkeys(wanted) if c in set(columns)]


def _quintile(pct: np.ndarray) -> np.ndarray:
    """Scores 1-5 from percentile ranks (ties share a score); 5 is the largest value."""
    return np.clip(np.ceil(np.nan_to_num(pct, nan=0.0) * 5), 1, 5).astype(int)


def _rfm_table() -> np.ndarray:
    table = np.full((5, 5), "Lost", dtype=object)
    done = np.zeros((5, 5), bool)
    for name, rs, fs in RFM_SEGMENTS:
        for r in rs:
            for f in fs:
                if not done[r - 1, f - 1]:
                    table[r - 1, f - 1], done[r - 1, f - 1] = name, True
    return table


_RFM = _rfm_table()
_RFM_NAMES, _RFM_CODES = np.unique(_RFM, return_inverse=True)  # names, and each cell's name
_RFM_SCORES = [f"{r}{f}{m}" for r in range(6) for f in range(6) for m in range(6)]


def rfm_segment(r: pd.Series | np.ndarray, fm: pd.Series | np.ndarray) -> np.ndarray:
    """Named RFM segment for R and FM scores (1-5): the first matching rule of RFM_SEGMENTS."""
    return np.asarray(_RFM[np.asarray(r, int) - 1, np.asarray(fm, int) - 1])


def _col(s: pd.DataFrame, name: str) -> np.ndarray:
    return s[name].to_numpy(dtype=float, na_value=np.nan)


def _lifecycle(s: pd.DataFrame, cfg: TagsConfig) -> pd.api.extensions.ExtensionArray:
    rule = cfg.lifecycle
    react = rule.reactivated_gap_days or rule.lapsed_days
    recency, usual = _col(s, "recency_days"), _col(s, "ipt_mean_days")
    at_risk = np.where(
        _col(s, "frequency") >= 1,
        recency > rule.at_risk_factor * np.nan_to_num(usual, nan=np.inf),
        recency > rule.at_risk_days_single,
    )
    conditions = [
        _col(s, "T") <= rule.new_days,
        recency > rule.lapsed_days,
        at_risk,
        np.nan_to_num(_col(s, "last_gap_days"), nan=0.0) > react,
    ]
    stages = ["new", "lapsed", "at-risk", "reactivated", "active"]
    return text_array(np.select(conditions, [0, 1, 2, 3], default=4), stages)


def _value(s: pd.DataFrame, cfg: TagsConfig, ref: TagReference) -> tuple[np.ndarray, Any]:
    rule = cfg.value_tier
    used = {k: w for k, w in rule.weights.items() if k in s.columns and w > 0}
    if not used:
        used = {"n_purchases": 1.0}
    total = sum(w * np.nan_to_num(ref.pct(_col(s, k), k), nan=0.0) for k, w in used.items())
    score = np.asarray(total, float) / sum(used.values())
    tier = np.select([score >= rule.high, score >= rule.mid], [0, 1], default=2)
    return score, text_array(tier, ["high", "mid", "low"])


def _argmax_tag(s: pd.DataFrame, prefix: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the code of the column with the largest positive share (0: none), and the
    tag of each code."""
    cols = [c for c in s.columns if c.startswith(prefix)]
    if not cols:
        return np.zeros(len(s), np.int64), np.array([""], object)
    shares = np.nan_to_num(s[cols].to_numpy(dtype=float, na_value=np.nan))
    names = np.array(["", *(f"{label}:{c[len(prefix) :]}" for c in cols)], dtype=object)
    return np.where(shares.max(axis=1) > 0, shares.argmax(axis=1) + 1, 0), names


def _basic_columns(s: pd.DataFrame, cfg: TagsConfig) -> list[str]:
    if cfg.basic is not None:
        return [c if c.startswith("attr_") else f"attr_{c}" for c in cfg.basic]
    return [
        c
        for c in s.columns
        if c.startswith("attr_") and not pd.api.types.is_numeric_dtype(s[c]) and s[c].nunique() < 20
    ]


def _row_lists(parts: list[tuple[np.ndarray, np.ndarray]]) -> pd.api.extensions.ExtensionArray:
    """Per row, the non-empty strings of `parts` (pairs of per-row codes and the string of
    each code), built once per distinct combination of codes (there are few) and copied in
    Arrow."""
    n = len(parts[0][0]) if parts else 0
    combo = np.zeros(n, np.int64)
    for codes, names in parts:
        combo, _ = pd.factorize(combo * len(names) + codes)
    first = first_rows(combo, int(combo.max()) + 1 if n else 0)
    columns = [names[codes[first]] for codes, names in parts]
    lists = [[t for t in row if t] for row in zip(*columns, strict=True)]
    distinct = pa.array(lists, pa.list_(pa.string()))
    return pd.arrays.ArrowExtensionArray(distinct.take(pa.array(combo)))


def _coded(values: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(values, np.int64), np.array(labels, dtype=object)


def build_tags(
    snapshot: pd.DataFrame,
    config: TagsConfig | None = None,
    *,
    reference: TagReference | None = None,
) -> pd.DataFrame:
    """Per customer: value score and tier, lifecycle stage, RFM scores and segment, tag list.

    Every customer gets exactly one lifecycle stage (first match of new, lapsed, at-risk,
    reactivated; else active) and one RFM segment. Quintiles and the value score rank each
    customer within `reference` (default: the snapshot itself), e.g. the feature store's
    population when the service tags one customer.
    """
    s = snapshot.reset_index(drop=True)
    return pd.DataFrame({"customer_id": s["customer_id"], **tag_columns(s, config, reference)})


def tag_columns(
    snapshot: pd.DataFrame,
    config: TagsConfig | None = None,
    reference: TagReference | None = None,
) -> dict[str, Any]:
    """The columns of `build_tags` (but ``customer_id``) as arrays: text as pandas string
    arrays, the tag lists as an Arrow list array."""
    cfg = config or TagsConfig()
    s = snapshot
    ref = reference or TagReference(s, cfg)
    r = _quintile(ref.pct(_col(s, "recency_days"), "recency_days", ascending=False))
    f = _quintile(ref.pct(_col(s, "n_purchases"), "n_purchases"))
    m = (
        _quintile(ref.pct(_col(s, "monetary_total"), "monetary_total"))
        if "monetary_total" in s
        else f
    )
    fm = np.floor((f + m) / 2 + 0.5).astype(int)
    score, tier = _value(s, cfg, ref)
    stage = _lifecycle(s, cfg)
    per_year = _col(s, "n_purchases") / np.maximum(_col(s, "T"), 30) * 365
    band = np.select([per_year >= cfg.frequency.high, per_year >= cfg.frequency.low], [2, 1], 0)
    parts = [
        _coded(_col(s, "frequency") > 0, ["first-time buyer", "repeat buyer"]),
        _coded(band, ["frequency:low", "frequency:mid", "frequency:high"]),
        _argmax_tag(s, "category_share_", "favourite"),
        _argmax_tag(s, "channel_share_", "channel"),
    ]
    for col in ref.basic_:
        if col in s:
            codes, uniques = pd.factorize(s[col], use_na_sentinel=True)
            label = col[len("attr_") :] + ":"
            parts.append(_coded(codes + 1, ["", *(label + str(u) for u in uniques)]))
    return {
        "value_score": score,
        "value_tier": tier,
        "lifecycle_stage": stage,
        "r_score": r,
        "f_score": f,
        "m_score": m,
        "rfm_score": text_array(r * 36 + f * 6 + m, _RFM_SCORES),
        "rfm_segment": text_array(_RFM_CODES.reshape(5, 5)[r - 1, fm - 1], _RFM_NAMES),
        "tags": _row_lists(parts),
    }
