"""Segmentation: the chosen solution is valid, named, profiled and explainable; on synthetic
data the search finds the planted segments; on the real data sets it is reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import generate
from customer_ml.features.snapshot import build_snapshot
from customer_ml.models.segments import explain_segments, make_segmenter, segment_columns
from customer_ml.train.segments import choose_segments
from tests.conftest import REPO


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
    assert len(s.trials) == 4  # the (algorithm, transform) grid
    assert not any("#" in n for n in s.names.values())
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


@pytest.mark.slow
def test_search_finds_the_planted_segments() -> None:
    """k and algorithm chosen by the objective alone; the truth is only used to grade."""
    from sklearn.metrics import adjusted_rand_score

    from customer_ml.data.synthetic import SEGMENTS

    syn = generate(4000, seed=11, with_events=False)
    snap = build_snapshot(from_frames(syn.transactions), as_of="2024-12-30")
    truth = syn.truth.set_index("customer_id").loc[snap["customer_id"].astype(str), "segment"]
    s = choose_segments(snap, seed=0)
    assert s.params["k"] == len(SEGMENTS)
    assert adjusted_rand_score(truth.to_numpy(), s.labels) >= 0.8


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_search_recovers_groups_planted_by_another_generator(seed: int) -> None:
    """Renewal-process customers in four groups of 46/27/17/10 % (tests/generators.py: not
    the data model of the built-in generator); the truth only grades."""
    from sklearn.metrics import adjusted_rand_score

    from tests.generators import renewal_customers

    tx, truth = renewal_customers(3000, seed=seed)
    snap = build_snapshot(from_frames(tx), as_of="2023-06-24")
    s = choose_segments(snap, seed=0)
    ari = adjusted_rand_score(truth.loc[snap["customer_id"].astype(str)].to_numpy(), s.labels)
    assert ari >= 0.6, (s.params, ari)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "file"),
    [
        ("cdnow", ("cdnow", "CDNOW_master.txt")),
        ("online_retail", ("online_retail", "online_retail.csv.gz")),
    ],
)
def test_real_data_segments_are_reproducible(config: str, file: tuple[str, str]) -> None:
    from customer_ml.config import load_config
    from customer_ml.data.load import load_data
    from tests.conftest import shared_file

    shared_file(*file)  # skips cleanly where ../shared/data is absent
    cfg = load_config(REPO / "configs" / f"{config}.yaml")
    data = load_data(cfg)
    snap = build_snapshot(data, as_of=cfg.as_of)
    s = choose_segments(snap, seed=0)
    assert s.quality["stability"] >= 0.8 and s.quality["min_share"] >= 0.02
    assert len(set(s.names.values())) == s.params["k"]


def test_logged_registered_and_reloaded_with_the_gate(tmp_path) -> None:
    import datetime as dt

    import mlflow.sklearn

    from customer_ml.config import parse_config
    from customer_ml.data.load import load_data
    from customer_ml.tracking.backend import open_store
    from customer_ml.tracking.registry import promote
    from customer_ml.train.segment_job import train_segments

    cfg = parse_config(
        {
            "project": "s",
            "data": {"synthetic": {"n_customers": 1200, "with_events": False}},
            "tuning": {"n_trials": 5},
            "paths": {"mlruns": str(tmp_path / "mlruns")},
        },
        base_dir=REPO,
    )
    data = load_data(cfg)
    day = dt.date(2024, 12, 30)
    first = train_segments(data, cfg, as_of=day)
    client = open_store(cfg.paths.mlruns)
    names = {a.path for a in client.list_artifacts(first.run_id, "plots")}
    assert names == {"plots/segment_sizes.png", "plots/segment_profiles.png"}
    assert promote(client, "s-segments").promoted
    model = mlflow.sklearn.load_model("models:/s-segments@champion")
    snap = build_snapshot(data, as_of=day)
    np.testing.assert_array_equal(model.predict(snap), first.segmentation.pipeline.predict(snap))
    second = train_segments(data, cfg, as_of=day)
    tags = client.get_model_version("s-segments", second.version).tags
    assert tags["champion_version"] == "1"
    # the same data and search: the champion's recipe scores what it scored before
    assert float(tags["champion_metric"]) == pytest.approx(float(tags["metric_value"]), abs=0.05)
