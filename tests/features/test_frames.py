"""Training frames and labels: time-based, one schema, no leakage past as_of."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.config import load_config
from customer_ml.data.load import from_frames, load_data
from customer_ml.data.synthetic import generate
from customer_ml.errors import DataError
from customer_ml.features import build_labels, build_training_frame, contractual_labels
from tests.conftest import shared_file

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def syn():
    return generate(2000, seed=11)


def test_training_frame_uses_rows_up_to_as_of_only(syn) -> None:
    tx = syn.transactions
    as_of = pd.Timestamp("2024-06-30")
    past = tx[tx.ts < as_of + pd.Timedelta(days=1)]
    full = build_training_frame(from_frames(tx), as_of=as_of, horizon_days=60, n_cutoffs=3)
    cut = build_training_frame(from_frames(past), as_of=as_of, horizon_days=60, n_cutoffs=3)
    pd.testing.assert_frame_equal(full, cut, check_exact=True)
    assert sorted(full.as_of.unique()) == list(
        pd.to_datetime(["2024-01-02", "2024-03-02", "2024-05-01"])
    )
    assert (full.as_of + pd.Timedelta(days=60) <= as_of).all()
    assert full.groupby("as_of").customer_id.apply(lambda s: s.is_unique).all()
    assert full.churned.notna().all()


def test_labels_match_the_generator_truth(syn) -> None:
    ds = from_frames(syn.transactions)
    lab = build_labels(ds, as_of="2024-03-31", horizon_days=90).set_index("customer_id")
    truth = syn.future("2024-03-31", 90).loc[lab.index]
    assert (lab.future_purchases == truth.future_purchases).all()
    assert lab.future_spend.to_numpy() == pytest.approx(truth.future_spend.to_numpy())
    alive = syn.alive_at("2024-03-31").loc[lab.index]
    assert not lab.churned[~alive].eq(False).any()  # the dead always churn


def test_label_window_past_the_data_is_an_error(syn) -> None:
    with pytest.raises(DataError, match="runs past the last transaction"):
        build_labels(from_frames(syn.transactions), as_of="2024-12-01", horizon_days=90)


@pytest.mark.realdata
def test_contractual_labels_from_telco() -> None:
    shared_file("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    lab = contractual_labels(load_data(load_config(REPO / "configs" / "telco.yaml")))
    assert len(lab) == 7_043 and int(lab.churned.sum()) == 1_869


def test_features_command_writes_parquet_and_nothing_on_bad_input(tmp_path: Path) -> None:
    gen = tmp_path / "gen"
    runner = CliRunner()
    assert (
        runner.invoke(app, ["data", "generate", "--customers", "200", "--out", str(gen)]).exit_code
        == 0
    )
    out = tmp_path / "feat.parquet"
    res = runner.invoke(
        app,
        ["features", "-c", str(gen / "config.yaml"), "--as-of", "2024-06-30", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(out)
    assert frame.customer_id.is_unique and {
        "value_tier",
        "lifecycle_stage",
        "rfm_segment",
        "tags",
    } <= set(frame.columns)
    assert "customers x" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "data:\n  transactions:\n    path: gen/transactions.parquet\n"
        "    columns: {customer_id: nope, ts: ts}\n"
    )
    out2 = tmp_path / "feat2.parquet"
    res = runner.invoke(app, ["features", "-c", str(bad), "--out", str(out2)])
    assert res.exit_code == 2 and "column 'nope' (mapped to customer_id) not found" in res.output
    assert not out2.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "feat.parquet", "gen"]
