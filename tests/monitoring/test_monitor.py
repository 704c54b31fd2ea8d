"""`customer-ml monitor` on CDNOW: realised churn AUC against an independent computation,
spend drift on a copy whose later amounts are multiplied by 4 (and none on the true data),
bad input (not a run folder, as_of before the reference) with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from customer_ml.cli import app
from tests.conftest import shared_file

runner = CliRunner()
REF_AS_OF, AS_OF = "1997-09-30", "1997-12-31"
CONFIG = """\
data:
  transactions:
    path: {path}
    format: csv
    read_options: {{sep: '\\s+'}}
    columns: {{customer_id: customer_id, ts: date, amount: dollar_value, quantity: number_of_cds}}
    ts_format: "%Y%m%d"
cleaning: {{drop_duplicates: false, drop_nonpositive_price: false, merge_same_day: true}}
project: cdmon
horizon_days: 90
backtest: {{n_origins: 1, n_train_cutoffs: 1, n_boot: 10}}
tuning: {{n_trials: 1, timeout_s: 5, max_rounds: 50}}
paths: {{out: out, mlruns: mlruns}}
"""
SPEND = ("monetary_mean", "monetary_value", "spend_30d", "spend_90d", "monetary_total")


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CDNOW run as of 1997-09-30 (small budgets), and configs of the true data and of a
    copy whose amounts after that date are multiplied by 4, sharing its MLflow store."""
    master = shared_file("cdnow", "CDNOW_master.txt")
    root = tmp_path_factory.mktemp("cdnow_monitor")
    tx = pd.read_csv(master, sep=r"\s+", dtype={"customer_id": str})
    tx.loc[tx["date"] > int(REF_AS_OF.replace("-", "")), "dollar_value"] *= 4
    tx.to_csv(root / "x4.txt", sep=" ", index=False)
    (root / "true.yaml").write_text(CONFIG.format(path=master))
    (root / "x4.yaml").write_text(CONFIG.format(path=root / "x4.txt"))
    res = runner.invoke(
        app,
        ["run", "-c", str(root / "true.yaml"), "--as-of", REF_AS_OF, "--out", str(root / "ref")],
    )
    assert res.exit_code == 0, res.output
    return {"root": root, "true": root / "true.yaml", "x4": root / "x4.yaml", "ref": root / "ref"}


def _monitor(config: Path, ref: Path, out: Path, as_of: str = AS_OF) -> object:
    return runner.invoke(
        app,
        [
            "monitor",
            "-c",
            str(config),
            "--reference",
            str(ref),
            "--as-of",
            as_of,
            "--out",
            str(out),
        ],
    )


@pytest.mark.slow
def test_realised_auc_and_no_spend_drift_on_true_data(cdnow: dict[str, Path]) -> None:
    out = cdnow["root"] / "mon_true"
    res = _monitor(cdnow["true"], cdnow["ref"], out)
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "monitor.json").read_text())
    # independent: purchases of each customer in (1997-09-30, 1997-12-29] from the raw file
    tx = pd.read_csv(
        shared_file("cdnow", "CDNOW_master.txt"), sep=r"\s+", dtype={"customer_id": str}
    )
    ts = pd.to_datetime(tx["date"].astype(str), format="%Y%m%d")
    window = (ts > pd.Timestamp(REF_AS_OF)) & (
        ts <= pd.Timestamp(REF_AS_OF) + pd.Timedelta(days=90)
    )
    buyers = set(tx.loc[window, "customer_id"])
    scores = pd.read_parquet(cdnow["ref"] / "scores.parquet")
    churned = (~scores["customer_id"].astype(str).isin(buyers)).astype(int)
    expected = roc_auc_score(churned, scores["churn_probability"])
    assert rep["realised"]["churn_auc"] == pytest.approx(expected, abs=1e-12)
    assert rep["realised"]["customers"] == len(scores) == 23570
    assert rep["realised"]["backtest"]["churn_auc"] > 0.5
    assert len(rep["realised"]["calibration"]) == 10
    feats = rep["drift"]["features"]
    assert not any(feats[c]["drifted"] for c in SPEND), {c: feats[c] for c in SPEND}
    assert not feats["T"]["drifted"]  # customer age, aligned for the days elapsed
    assert rep["decision"]["action"] == "keep", rep["decision"]
    html = (out / "monitor.html").read_text()
    assert (
        "<script" not in html and "Evidently" in html and "taken back by the days elapsed" in html
    )


@pytest.mark.slow
def test_amounts_times_four_flag_spend_and_retrain(cdnow: dict[str, Path]) -> None:
    out = cdnow["root"] / "mon_x4"
    res = _monitor(cdnow["x4"], cdnow["ref"], out)
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "monitor.json").read_text())
    feats = rep["drift"]["features"]
    assert all(feats[c]["drifted"] for c in SPEND), {c: feats[c] for c in SPEND}
    for c in SPEND:
        assert {"statistic", "threshold", "method"} <= set(feats[c])
    assert rep["drift"]["share_drifted"] > 0.35
    assert rep["decision"]["action"] == "retrain"
    assert "retrain" in res.output


def test_bad_reference_and_early_as_of_write_nothing(cdnow: dict[str, Path]) -> None:
    not_a_run = cdnow["root"] / "empty"
    not_a_run.mkdir()
    out = cdnow["root"] / "mon_bad"
    for ref, as_of, said in (
        (not_a_run, AS_OF, "is not the output of `customer-ml run` or `score`: scores.parquet"),
        (cdnow["ref"], "1997-06-30", "before the reference run's as_of 1997-09-30"),
        (cdnow["ref"], "soon", "'soon': not a date"),
    ):
        res = _monitor(cdnow["true"], ref, out, as_of=as_of)
        assert res.exit_code == 2 and said in " ".join(res.output.split()), res.output
    assert not out.exists()
