"""Layered tags from explicit rules in config: value tier, lifecycle stage, RFM, basic, behaviour.

Every threshold lives in `TagsConfig`, so changing a rule needs no code change. All tags are
computed from one snapshot (rows up to its as_of), so they are point-in-time too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_ml.config import TagsConfig

__all__ = ["LIFECYCLE_STAGES", "RFM_SEGMENTS", "build_tags", "rfm_segment"]

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


def _quintile(values: pd.Series, *, ascending: bool = True) -> pd.Series:
    """Scores 1-5 from percentile ranks (ties share a score); 5 is the largest value."""
    pct = values.rank(pct=True, method="average", ascending=ascending)
    return np.clip(np.ceil(pct * 5), 1, 5).fillna(1).astype(int)


def rfm_segment(r: pd.Series, fm: pd.Series) -> pd.Series:
    """Named RFM segment for R and FM scores (1-5)."""
    out = pd.Series("Lost", index=r.index, dtype=object)
    done = pd.Series(False, index=r.index)
    for name, rs, fs in RFM_SEGMENTS:
        hit = ~done & r.isin(rs) & fm.isin(fs)
        out[hit] = name
        done |= hit
    return out


def _lifecycle(s: pd.DataFrame, cfg: TagsConfig) -> pd.Series:
    rule = cfg.lifecycle
    react = rule.reactivated_gap_days or rule.lapsed_days
    usual = s["ipt_mean_days"]
    at_risk = np.where(
        s["frequency"] >= 1,
        s["recency_days"] > rule.at_risk_factor * usual.fillna(np.inf),
        s["recency_days"] > rule.at_risk_days_single,
    )
    conditions = [
        s["T"] <= rule.new_days,
        s["recency_days"] > rule.lapsed_days,
        at_risk,
        s["last_gap_days"].fillna(0).astype(float) > react,
    ]
    return pd.Series(
        np.select(conditions, ["new", "lapsed", "at-risk", "reactivated"], default="active"),
        index=s.index,
    )


def _value(s: pd.DataFrame, cfg: TagsConfig) -> tuple[pd.Series, pd.Series]:
    rule = cfg.value_tier
    used = {k: w for k, w in rule.weights.items() if k in s.columns and w > 0}
    if not used:
        used = {"n_purchases": 1.0}
    score = sum(w * s[k].rank(pct=True).fillna(0) for k, w in used.items()) / sum(used.values())
    tier = np.select([score >= rule.high, score >= rule.mid], ["high", "mid"], default="low")
    return pd.Series(score, index=s.index), pd.Series(tier, index=s.index)


def _argmax_tag(s: pd.DataFrame, prefix: str, label: str) -> pd.Series:
    cols = [c for c in s.columns if c.startswith(prefix)]
    if not cols:
        return pd.Series("", index=s.index)
    shares = s[cols].fillna(0).to_numpy()
    best = np.array([c[len(prefix) :] for c in cols])[shares.argmax(axis=1)]
    return pd.Series(np.where(shares.max(axis=1) > 0, label + ":" + best, ""), index=s.index)


def _basic_columns(s: pd.DataFrame, cfg: TagsConfig) -> list[str]:
    if cfg.basic is not None:
        return [c if c.startswith("attr_") else f"attr_{c}" for c in cfg.basic]
    return [
        c
        for c in s.columns
        if c.startswith("attr_") and not pd.api.types.is_numeric_dtype(s[c]) and s[c].nunique() < 20
    ]


def build_tags(snapshot: pd.DataFrame, config: TagsConfig | None = None) -> pd.DataFrame:
    """Per customer: value score and tier, lifecycle stage, RFM scores and segment, tag list.

    Every customer gets exactly one lifecycle stage (first match of new, lapsed, at-risk,
    reactivated; else active) and one RFM segment.
    """
    cfg = config or TagsConfig()
    s = snapshot.reset_index(drop=True)
    r = _quintile(s["recency_days"], ascending=False)
    f = _quintile(s["n_purchases"])
    m = _quintile(s["monetary_total"]) if "monetary_total" in s else f
    fm = np.floor((f + m) / 2 + 0.5).astype(int)
    score, tier = _value(s, cfg)
    stage = _lifecycle(s, cfg)
    per_year = s["n_purchases"] / np.maximum(s["T"], 30) * 365
    band = np.select(
        [per_year >= cfg.frequency.high, per_year >= cfg.frequency.low],
        ["frequency:high", "frequency:mid"],
        default="frequency:low",
    )
    parts = [
        pd.Series(np.where(s["frequency"] > 0, "repeat buyer", "first-time buyer")),
        pd.Series(band),
        _argmax_tag(s, "category_share_", "favourite"),
        _argmax_tag(s, "channel_share_", "channel"),
    ]
    for col in _basic_columns(s, cfg):
        if col in s:
            parts.append((col[len("attr_") :] + ":" + s[col].astype(str)).where(s[col].notna(), ""))
    tag_lists = [[t for t in row if t] for row in zip(*parts, strict=True)]
    return pd.DataFrame(
        {
            "customer_id": s["customer_id"],
            "value_score": score,
            "value_tier": tier,
            "lifecycle_stage": stage,
            "r_score": r,
            "f_score": f,
            "m_score": m,
            "rfm_score": r.astype(str) + f.astype(str) + m.astype(str),
            "rfm_segment": rfm_segment(r, pd.Series(fm)),
            "tags": tag_lists,
        }
    )
