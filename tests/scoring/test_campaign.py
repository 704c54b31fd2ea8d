"""Control groups and measured campaigns: deterministic hashed groups, a planted uplift
recovered within its interval, a null campaign called significant no more often than the
test's level over seeds, and the end-to-end target -> measure path with its bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.scoring.campaign import compare_groups, control_draw

runner = CliRunner()


def _campaign(seed: int, *, n: int, lift: float, spend_lift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"c{seed}-{i}" for i in range(n)])
    group = np.where(control_draw(ids, campaign=f"test-{seed}") < 0.2, "control", "treated")
    treated = group == "treated"
    retained = rng.random(n) < 0.30 + lift * treated
    spend = retained * rng.gamma(2.0, 25.0, n) + spend_lift * treated * retained
    return pd.DataFrame({"group": group, "retained": retained.astype(int), "spend": spend})


def test_groups_are_deterministic_and_of_the_configured_share() -> None:
    ids = pd.Series([str(i) for i in range(20000)])
    a = control_draw(ids, campaign="winback-1997-09-30")
    assert np.array_equal(a, control_draw(ids, campaign="winback-1997-09-30"))
    assert a.min() >= 0 and a.max() < 1
    assert abs((a < 0.1).mean() - 0.1) < 0.01
    other = control_draw(ids, campaign="vip-1997-09-30")
    # another campaign draws another, independent control group
    assert abs(((a < 0.1) & (other < 0.1)).mean() - 0.01) < 0.004


def test_planted_uplift_is_measured_within_its_interval() -> None:
    hits = 0
    for seed in range(20):
        r = compare_groups(_campaign(seed, n=20000, lift=0.05, spend_lift=10.0))
        ret = r["retention"]
        hits += ret["ci_low"] <= 0.05 <= ret["ci_high"]
        assert ret["p_value"] < 0.01  # 5 points on 4,000 controls is clear
        assert r["value_per_treated_customer"] > 0
    assert hits >= 17  # 95 % intervals: 19 of 20 expected


def test_null_campaign_is_not_significant_more_often_than_the_level() -> None:
    seeds = 300
    ret = spend = 0
    for seed in range(seeds):
        r = compare_groups(_campaign(1000 + seed, n=3000, lift=0.0, spend_lift=0.0))
        ret += r["retention"]["p_value"] < 0.05
        spend += r["spend"]["p_value"] < 0.05
    bound = 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / seeds)
    assert ret / seeds <= bound and spend / seeds <= bound, (ret, spend)


def test_target_writes_groups_and_measure_waits_for_the_horizon(trained) -> None:
    path, result = trained
    res = runner.invoke(app, ["target", "-c", str(path), "--top", "5"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    folder = path.parent / "out-campaigns" / f"retention-{result.as_of}"
    assert not (path.parent / "out" / "campaign_retention").exists()  # a later run would drop it
    manifest = json.loads((folder / "campaign.json").read_text())
    assert manifest["as_of"] == str(result.as_of) and manifest["control_share"] == 0.1
    listed = pd.read_csv(folder / "list.csv", dtype={"customer_id": str})
    draw = control_draw(listed["customer_id"], campaign=manifest["campaign"])
    assert ((draw < 0.1) == (listed["group"] == "control")).all()
    assert manifest["control"] == (listed["group"] == "control").sum() > 0
    bad = runner.invoke(
        app, ["measure", "-c", str(path), "--campaign", str(folder), "--as-of", str(result.as_of)]
    )
    assert bad.exit_code == 2 and "measure after it" in " ".join(bad.output.split())
    assert not (folder / "measure.json").exists()
    none = runner.invoke(
        app, ["measure", "-c", str(path), "--campaign", str(path.parent), "--as-of", "2030-01-01"]
    )
    assert none.exit_code == 2 and "campaign.json" in none.output


@pytest.mark.parametrize("n_control", [0, 1])
def test_too_small_a_group_is_a_clear_error(n_control: int) -> None:
    from customer_ml.errors import DataError

    df = pd.DataFrame({"group": ["treated"] * 5 + ["control"] * n_control})
    df["retained"] = 1
    with pytest.raises(DataError, match="two customers per group"):
        compare_groups(df)
