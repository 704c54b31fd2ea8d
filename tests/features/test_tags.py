"""Tags: rules from config, one stage and one RFM segment per customer."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from customer_ml.config import LifecycleRule, TagsConfig, ValueTierRule
from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import generate
from customer_ml.features import build_snapshot, build_tags
from customer_ml.features.tags import LIFECYCLE_STAGES, RFM_SEGMENTS, rfm_segment


@pytest.fixture(scope="module")
def snap() -> pd.DataFrame:
    syn = generate(3000, seed=5)
    return build_snapshot(
        from_frames(syn.transactions, syn.customers, syn.events), as_of="2023-09-30"
    )


def test_one_stage_and_one_segment_each(snap) -> None:
    tags = build_tags(snap)
    assert len(tags) == len(snap) and tags.customer_id.is_unique
    assert tags.lifecycle_stage.isin(LIFECYCLE_STAGES).all()
    assert tags.rfm_segment.isin([n for n, _, _ in RFM_SEGMENTS]).all()
    assert tags.value_tier.isin(["high", "mid", "low"]).all()
    assert tags.rfm_score.str.fullmatch(r"[1-5]{3}").all()
    assert set(tags.lifecycle_stage) >= {"new", "active", "lapsed", "at-risk"}


def test_rfm_map_covers_every_cell() -> None:
    cells = pd.DataFrame(list(itertools.product(range(1, 6), range(1, 6))), columns=["r", "fm"])
    seg = rfm_segment(cells.r, cells.fm)
    lookup = dict(zip(zip(cells.r, cells.fm, strict=True), seg, strict=True))
    assert lookup[(5, 5)] == "Champions" and lookup[(1, 1)] == "Lost"
    assert lookup[(5, 1)] == "New" and lookup[(1, 5)] == "Cannot lose them"
    assert lookup[(3, 3)] == "Need attention" and lookup[(2, 1)] == "Hibernating"
    # every named segment is reachable
    assert set(seg) == {n for n, _, _ in RFM_SEGMENTS}


def test_thresholds_from_config_change_the_result(snap) -> None:
    base = build_tags(snap)
    strict_value = build_tags(snap, TagsConfig(value_tier=ValueTierRule(high=0.95, mid=0.9)))
    assert (strict_value.value_tier == "high").sum() < (base.value_tier == "high").sum()
    longer_new = build_tags(snap, TagsConfig(lifecycle=LifecycleRule(new_days=120)))
    assert (longer_new.lifecycle_stage == "new").sum() > (base.lifecycle_stage == "new").sum()
    quick_lapse = build_tags(snap, TagsConfig(lifecycle=LifecycleRule(lapsed_days=30)))
    assert (quick_lapse.lifecycle_stage == "lapsed").sum() > (
        base.lifecycle_stage == "lapsed"
    ).sum()


def test_lifecycle_rules_on_hand_made_rows() -> None:
    s = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "n_purchases": [1, 5, 5, 1, 5, 4],
            "frequency": [0, 4, 4, 0, 4, 3],
            "recency_days": [5, 10, 100, 200, 40, 10],
            "T": [5, 300, 300, 300, 300, 400],
            "ipt_mean_days": [None, 20, 20, None, 30, 60],
            "last_gap_days": [None, 20, 20, None, 20, 250],
        }
    )
    stages = build_tags(s).set_index("customer_id").lifecycle_stage
    assert stages.to_dict() == {
        "a": "new",
        "b": "active",
        "c": "at-risk",
        "d": "lapsed",
        "e": "active",
        "f": "reactivated",
    }


def test_behaviour_and_basic_tags(snap) -> None:
    tags = build_tags(snap).set_index("customer_id").tags
    first = tags.iloc[0]
    assert first[0] in ("repeat buyer", "first-time buyer")
    assert any(t.startswith("frequency:") for t in first)
    assert any(t.startswith("favourite:") for t in first)
    assert any(t.startswith("channel:") for t in first)
    assert any(t.startswith("region:") for t in first)
    assert any(t.startswith("age_band:") for t in first)


def test_reference_ranks_equal_pandas_ranks_and_one_row_equals_batch(snap) -> None:
    from customer_ml.features.tags import TagReference

    rng = np.random.default_rng(3)
    v = pd.Series(rng.integers(0, 6, 300).astype(float))
    v[::17] = np.nan
    ref = TagReference(pd.DataFrame({"n_purchases": v}))
    np.testing.assert_allclose(
        ref.pct(v.to_numpy(), "n_purchases"), v.rank(pct=True).to_numpy(), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        ref.pct(v.to_numpy(), "n_purchases", ascending=False),
        v.rank(pct=True, ascending=False).to_numpy(),
        rtol=0,
        atol=1e-12,
    )
    batch = build_tags(snap)
    reference = TagReference(snap)
    for i in (0, len(snap) // 2, len(snap) - 1):
        one = build_tags(snap.iloc[[i]], reference=reference).iloc[0]
        assert one.drop("tags").equals(batch.iloc[i].drop("tags"))
        assert one["tags"] == batch.iloc[i]["tags"]


@pytest.mark.parametrize("ascending", [True, False])
def test_ranks_of_values_between_beside_and_outside_the_reference(ascending: bool) -> None:
    from customer_ml.features.tags import TagReference

    population = np.array([0.0, 1, 1, 2, 5, 5, 5, 9, np.nan])
    values = np.array([-1, -0.0, 0, 0.5, 1, 3, 5, 9, 10, np.nan, np.inf, -np.inf])
    ref = TagReference(pd.DataFrame({"n_purchases": population}))
    got = ref.pct(values, "n_purchases", ascending=ascending)
    known = np.sort(population[~np.isnan(population)])
    lo, hi = np.searchsorted(known, values, "left"), np.searchsorted(known, values, "right")
    if not ascending:
        lo, hi = len(known) - hi, len(known) - lo
    want = np.where(np.isnan(values), np.nan, (lo + hi + 1) / 2 / len(known))
    np.testing.assert_array_equal(got, want)
    empty = TagReference(pd.DataFrame({"n_purchases": [np.nan]}))
    np.testing.assert_array_equal(empty.pct(values[:3], "n_purchases"), [0.5, 0.5, 0.5])
