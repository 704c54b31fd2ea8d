"""Segmentation (first cut): the chosen solution is valid, named, profiled and explainable."""

from __future__ import annotations

import numpy as np
import pytest

from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import generate
from customer_ml.features.snapshot import build_snapshot
from customer_ml.models.segments import explain_segments, make_segmenter, segment_columns
from customer_ml.train.segments import choose_segments


@pytest.fixture(scope="module")
def snap():
    syn = generate(1500, seed=3, with_events=False)
    return build_snapshot(from_frames(syn.transactions), as_of="2024-12-30")


def test_choice_is_valid_named_and_profiled(snap) -> None:
    s = choose_segments(snap, k_range=(3, 6), n_trials=4, seed=0)
    k = s.params["k"]
    assert 3 <= k <= 6 and len(np.unique(s.labels)) == k
    assert s.quality["min_share"] >= 0.02 and 0 <= s.quality["stability"] <= 1
    assert len(s.names) == k and len(set(s.names.values())) == k
    assert s.profile["share"].sum() == pytest.approx(1.0)
    assert s.profile["revenue_share"].sum() == pytest.approx(1.0)
    assert len(s.trials) == 4
    # new customers are assigned through the same pipeline
    assert set(s.pipeline.predict(snap.head(20))) <= set(range(k))


def test_explanations_favour_the_assigned_segment(snap) -> None:
    cols = segment_columns(snap)
    pipe = make_segmenter(cols, k=4, algorithm="kmeans", transform="log", n_rows=len(snap))
    pipe.fit(snap)
    e = explain_segments(pipe, snap, cols)
    assert list(e.columns) == cols
    # summed over features: squared distance to the next nearest minus to the own centroid
    assert (e.sum(axis=1) >= -1e-9).all()
