"""Reasons in words and playbook actions: rendering, ranking, grouping, first-match rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from customer_ml.config import ConfigError, parse_config
from customer_ml.config.rules import PlaybookRule
from customer_ml.features.arrays import round_bits
from customer_ml.scoring.playbook import apply_playbook, value_at_risk
from customer_ml.scoring.reasons import render_reasons

FRAME = pd.DataFrame(
    {
        "recency_days": [142.0, 3.0],
        "ipt_mean_days": [30.0, np.nan],
        "spend_trend_90d": [-0.6666666666666666, 1.0],
        "monetary_total": [1234.5, 10.0],
        "purchases_90d": [0.0, 1.0],
    }
)


def test_reasons_rank_by_size_and_render_values_with_direction() -> None:
    contrib = pd.DataFrame(
        {
            "recency_days": [2.0, -0.1],
            "spend_trend_90d": [0.5, 0.0],
            "monetary_total": [-1.0, 0.3],
            "purchases_90d": [0.1, -0.2],
        }
    )
    got = render_reasons(contrib, FRAME, n=3)
    assert got[0] == [
        "↑ last purchase 142 days ago (usual gap 30 days)",
        "↓ total spend 1,234",  # whole units from 100 (1,234.5: half to even)
        "↑ spend in the last 90 days down 80% on the 90 before",
    ]
    # a zero contribution is no reason; one purchase so far has no usual gap
    assert got[1] == [
        "↑ total spend 10.00",
        "↓ 1 purchases in the last 90 days",
        "↓ last purchase 3 days ago (one purchase so far)",
    ]


def test_a_missing_value_is_named_as_the_catalogue_names_it() -> None:
    frame = pd.DataFrame({"ipt_mean_days": [np.nan, 12.0], "monetary_std": [np.nan, 1.5]})
    contrib = pd.DataFrame({"ipt_mean_days": [-0.2, 0.1], "monetary_std": [0.1, 0.0]})
    got = render_reasons(contrib, frame, n=2)
    assert got[0] == ["↓ usual gap unknown", "↑ spread of spend per purchase unknown"]
    assert got[1] == ["↑ usual gap between purchases 12 days"]


def test_trend_extremes_and_horizon_wording() -> None:
    frame = pd.DataFrame({"purchases_trend_30d": [1.0, -1.0], "bgnbd_p_any": [0.25, 0.5]})
    contrib = pd.DataFrame({"purchases_trend_30d": [1.0, 1.0], "bgnbd_p_any": [0.5, 0.1]})
    got = render_reasons(contrib, frame, n=2, horizon_days=60)
    assert got[0][0] == "↑ purchases in the last 30 days, none in the 30 before"
    assert got[0][1] == "↑ 25% chance of buying again within the next 60 days"
    assert got[1][0] == "↑ no purchases in the last 30 days (some in the 30 before)"


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "segment": [0, 1, 1, 2],
            "segment_name": ["x", "y", "y", "z"],
            "value_tier": ["high", "high", "low", "low"],
            "lifecycle_stage": ["at-risk", "active", "lapsed", "new"],
            "rfm_segment": ["At risk", "Champions", "Lost", "New"],
            "churn_probability": [0.9, 0.1, 0.95, 0.5],
            "predicted_ltv": [100.0, 50.0, 1.0, np.nan],
            "expected_purchases": [2.0, 3.0, 0.1, 1.0],
        }
    )


def test_playbook_first_match_wins_and_conditions_combine() -> None:
    rules = (
        PlaybookRule(action="call", when={"value_tier": ("high",)}, churn_at_least=0.5),
        PlaybookRule(action="care", when={"value_tier": ("high",)}),
        PlaybookRule(action="win back", when={"lifecycle_stage": ("lapsed", "at-risk")}),
        PlaybookRule(action="segment 2", when={"segment": (2,)}, churn_below=0.6),
    )
    got = apply_playbook(_scores(), rules)["recommended_action"].tolist()
    assert got == ["call", "care", "win back", "segment 2"]
    # without a default rule a customer matching nothing gets no action
    assert apply_playbook(_scores(), rules[:2])["recommended_action"].tolist()[2:] == ["", ""]


def test_value_at_risk_uses_ltv_else_expected_purchases() -> None:
    s = _scores()
    assert value_at_risk(s).tolist() == pytest.approx([90.0, 5.0, 0.95, 0.0])
    s["predicted_ltv"] = np.nan
    assert value_at_risk(s).tolist() == pytest.approx([1.8, 0.3, 0.095, 0.5])


def test_playbooks_come_from_config_and_typos_are_named() -> None:
    raw = {
        "data": {"synthetic": {}},
        "playbooks": {"vip": [{"action": "gift", "when": {"value_tier": ["high"]}}]},
        "default_playbook": "vip",
    }
    cfg = parse_config(raw, base_dir=Path("."))
    assert cfg.playbooks["vip"][0].action == "gift"
    with pytest.raises(ConfigError, match="default_playbook"):
        parse_config({**raw, "default_playbook": "nope"}, base_dir=Path("."))
    bad = {**raw, "playbooks": {"vip": [{"action": "gift", "when": {"tier": ["high"]}}]}}
    with pytest.raises(ConfigError, match=r"playbooks\.vip\.0\.when"):
        parse_config(bad, base_dir=Path("."))


def test_each_value_renders_as_if_formatted_alone() -> None:
    # rendering once per distinct (rounded) value must give what formatting each value gives:
    # halves, values a hair either side of them, -0, missing values, many rows
    rng = np.random.default_rng(0)
    halves = np.array([0.5, 1.5, 2.5, -0.4, 0.0, 0.125, 0.135, 0.145, 2.675, np.nan])
    near = np.concatenate([halves, np.nextafter(halves, 10), np.nextafter(halves, -10)])
    # amounts: cents halves at every scale, thousands groups, huge and infinite values
    cents = np.array(
        [0.005, 0.015, 1.005, 2.675, 99.995, 100, -100, 999.995, 1000, 999_999.995, 1e6, 1e9 + 0.5]
    )
    big = np.array([1234567.891, 2e12, 1e15, 1e300, np.inf, -np.inf, -0.001, -1234.5, -0.0])
    amounts = np.concatenate([cents, np.nextafter(cents, 0), np.nextafter(cents, 2e9), big])
    values = np.concatenate(
        [
            near,
            amounts,
            rng.exponential(100, 3000).round(1),
            rng.random(3000),
            rng.lognormal(5, 4, 3000),
            np.round(rng.lognormal(3, 3, 3000), 3) + 0.005,  # at or a hair off a half cent
        ]
    )
    n = len(values)
    frame = pd.DataFrame(
        {
            "recency_days": values,
            "bgnbd_p_alive": values,
            "monetary_total": values,
            "bgnbd_expected_purchases": values,
        }
    )
    for col, fmt in [
        ("recency_days", "last purchase {:,.0f} days ago"),
        ("bgnbd_p_alive", "purchase pattern: {:.0%} likely still active"),
        ("monetary_total", "total spend {:,.2f}"),  # below 100; whole units above
        ("bgnbd_expected_purchases", "expected {:.2f} purchases within the next 90 days"),
    ]:
        contrib = pd.DataFrame({col: np.ones(n)})
        got = [r[0] for r in render_reasons(contrib, frame, n=1)]
        names = {"recency_days": "days since the last purchase", "monetary_total": "total spend"}
        label = names.get(col, col.replace("_", " ")) + " unknown"  # the catalogue's name
        whole = col == "monetary_total"  # amounts from 100 on: whole units
        # values render as their rounding to 40 bits (so that sums in another order, by
        # another engine, render alike): a hair off a half is the half, formatted alone
        shown = values if col == "recency_days" else round_bits(values)
        want = [
            "↑ "
            + (
                (fmt.replace(",.2f", ",.0f") if whole and abs(v) >= 100 else fmt).format(v)
                if v == v or col == "recency_days"
                else label
            )
            for v in shown
        ]
        assert got == want, col


def test_recency_with_the_usual_gap_renders_each_pair_as_if_formatted_alone() -> None:
    # the day counts and gaps are rendered once each and joined per distinct pair
    rng = np.random.default_rng(1)
    days = np.concatenate([[0.5, 1.5, 2.5, -0.0, 1e6 + 0.5], rng.exponential(80, 4000).round(1)])
    gap = np.concatenate([[0.5, 2.5, np.nan, 1.5, 1e6], rng.exponential(30, 4000).round(1)])
    gap[::7] = np.nan
    frame = pd.DataFrame({"recency_days": days, "ipt_mean_days": gap})
    sign = rng.choice([-1.0, 1.0], len(days))
    got = [r[0] for r in render_reasons(pd.DataFrame({"recency_days": sign}), frame, n=1)]
    want = [
        ("↑ " if s > 0 else "↓ ")
        + (
            f"last purchase {d:,.0f} days ago (usual gap {g:,.0f} days)"
            if g == g
            else f"last purchase {d:,.0f} days ago (one purchase so far)"
        )
        for d, g, s in zip(days, gap, sign, strict=True)
    ]
    assert got == want
    assert len(set(got)) > 1000  # many distinct pairs
