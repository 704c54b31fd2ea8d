"""`customer-ml cycle` on the CDNOW 1/10 sample, five cycles sharing one run folder and one
MLflow store:

1. true data as of 1997-12-31: no earlier run, a plain run (every task trained, champion v1);
2. the same again: nothing drifted, keep, the registry's champions unchanged;
3. true data as of 1998-02-15: the last run is younger than the horizon, no realised figures;
4. a copy whose amounts are all multiplied by 4 (a feed now in another currency), as of
   1998-03-31: spend drifts,
   retrain, challengers compared with the champion on the same backtest by the gate; the
   realised figures come from the kept run of cycle 1 (one horizon back), checked against an
   independent computation from the raw file;
5. the same again: keep, no second promotion.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.config import load_config
from customer_ml.report.history import history_figure
from customer_ml.tracking.backend import open_store
from customer_ml.tracking.history import monitoring_history, step_of
from customer_ml.tracking.registry import list_versions
from tests.conftest import shared_file
from tests.test_run import check_contract

runner = CliRunner()
CONFIG = """\
data:
  transactions:
    path: {name}
    format: csv
    columns: {{customer_id: customer_id, ts: date, amount: dollars, quantity: cds}}
    ts_format: "%Y%m%d"
cleaning: {{drop_duplicates: false, drop_nonpositive_price: false, merge_same_day: true}}
project: cyc
horizon_days: 90
backtest: {{n_origins: 1, n_train_cutoffs: 1, n_boot: 10}}
tuning: {{n_trials: 1, timeout_s: 5, max_rounds: 50}}
paths: {{out: out, mlruns: mlruns}}
"""
FIRST, MIDDLE, LATER = "1997-12-31", "1998-02-15", "1998-03-31"
STEPS = [("true", FIRST), ("true", FIRST), ("true", MIDDLE), ("x4", LATER), ("x4", LATER)]


def _versions(root: Path) -> pd.DataFrame:
    cfg = load_config(root / "true.yaml")
    return list_versions(open_store(cfg.paths.mlruns), "cyc-")[["model", "version", "aliases"]]


@pytest.fixture(scope="module")
def cycles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    raw = shared_file("cdnow", "CDNOW_sample.txt")
    root = tmp_path_factory.mktemp("cycle")
    names = ["orig_id", "customer_id", "date", "cds", "dollars"]
    tx = pd.read_csv(raw, sep=r"\s+", header=None, names=names).drop(columns="orig_id")
    tx.to_csv(root / "true.csv", index=False)
    tx.assign(dollars=tx["dollars"] * 4).to_csv(root / "x4.csv", index=False)
    for name in ("true", "x4"):
        (root / f"{name}.yaml").write_text(CONFIG.format(name=f"{name}.csv"))
    outputs, versions = [], []
    for data, as_of in STEPS:
        res = runner.invoke(app, ["cycle", "-c", str(root / f"{data}.yaml"), "--as-of", as_of])
        assert res.exit_code == 0, res.output
        outputs.append(res.output)
        versions.append(_versions(root))
    return {"root": root, "out": outputs, "versions": versions, "tx": tx}


def _report(root: Path, as_of: str) -> dict[str, Any]:
    return json.loads((root / "out-cycles" / as_of / "monitor.json").read_text())


@pytest.mark.slow
def test_first_cycle_runs_and_a_second_on_the_same_day_promotes_nothing(
    cycles: dict[str, Any],
) -> None:
    root, out, versions = cycles["root"], cycles["out"], cycles["versions"]
    assert "first cycle" in out[0]
    first = versions[0]
    assert sorted(first["model"]) == ["cyc-churn", "cyc-ltv", "cyc-segments"]
    assert (first["aliases"].str.contains("champion")).all()
    check_contract(root / "out", customers=2357)  # after cycle 5: the retrained run
    assert "decision: keep" in out[1]
    assert "champions promoted: none" in out[1]
    pd.testing.assert_frame_equal(versions[1], first)
    assert _report(root, FIRST)["drift"]["share_drifted"] == 0.0


@pytest.mark.slow
def test_drifted_copy_retrains_through_the_gate_and_once_only(cycles: dict[str, Any]) -> None:
    out, versions = cycles["out"], cycles["versions"]
    # (cycle 5 rewrote out-cycles/<LATER>/monitor.json; cycle 4 speaks through its output)
    text = " ".join(out[3].split())  # the console wraps long lines
    assert "decision: retrain" in text
    assert "features drifted (more than 35%)" in text, text
    assert "the predictions drifted" in text and "predicted_ltv" in text, text
    before, after = versions[2], versions[3]
    for model in ("cyc-churn", "cyc-ltv", "cyc-segments"):  # one new challenger each
        assert (after["model"] == model).sum() == (before["model"] == model).sum() + 1
    for task in ("churn", "ltv"):  # the gate compared it with the champion re-scored
        assert re.search(rf"{task}: cyc-{task}: .*? vs champion v\d+ .*? same backtest", text)
    assert "decision: keep" in out[4]
    assert "champions promoted: none" in out[4]
    pd.testing.assert_frame_equal(versions[4], after)


@pytest.mark.slow
def test_realised_figures_of_the_run_one_horizon_back(cycles: dict[str, Any]) -> None:
    root, tx = cycles["root"], cycles["tx"]
    assert _report(root, MIDDLE)["realised"] is None  # the last run is 46 days old
    real = _report(root, LATER)["realised"]
    assert real["as_of"] == FIRST and real["window_end"] == LATER
    # independent: who bought in (1997-12-31, 1998-03-31], from the raw file
    scores = pd.read_parquet(root / "out-cycles" / FIRST / "run" / "scores.parquet")
    window = tx[(tx["date"] > 19971231) & (tx["date"] <= 19980331)]
    bought = set(window["customer_id"].astype(int))
    ids = scores["customer_id"].astype(int)
    churned = ~ids.isin(bought)
    expected = roc_auc_score(churned, scores["churn_probability"])
    assert real["churn_auc"] == pytest.approx(expected, abs=1e-9)
    # only the newest run a horizon old is kept (with the later ones)
    kept = sorted(p.parent.name for p in (root / "out-cycles").glob("*/run"))
    assert kept == [FIRST, MIDDLE, LATER]


@pytest.mark.slow
def test_each_cycle_logged_and_drawn_over_time(cycles: dict[str, Any]) -> None:
    root = cycles["root"]
    cfg = load_config(root / "true.yaml")
    hist = monitoring_history(project="cyc", mlruns=cfg.paths.mlruns)
    assert [d.date().isoformat() for d in hist["as_of"]] == [FIRST, MIDDLE, LATER, LATER]
    assert hist["decision"].iloc[0] == "keep" and hist["decision"].iloc[2] == "retrain"
    auc = hist["realised_churn_auc"].to_numpy()
    assert np.isnan(auc[:2]).all()
    assert auc[2] == pytest.approx(_report(root, LATER)["realised"]["churn_auc"], abs=1e-6)
    client = open_store(cfg.paths.mlruns)
    steps = client.get_metric_history(hist["run_id"].iloc[2], "share_drifted")
    assert [m.step for m in steps] == [step_of(dt.date(1998, 3, 31))]

    fig = history_figure(hist)
    line = next(ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == "realised_churn_auc")
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), auc)
    drift = next(ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == "share_drifted")
    np.testing.assert_allclose(np.asarray(drift.get_ydata(), dtype=float), hist["share_drifted"])
    html = (root / "out-cycles" / LATER / "monitor.html").read_text()
    assert "id='history'" in html and "data:image/png;base64," in html
    assert "id='history'" in (root / "out" / "report.html").read_text()


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.slow
def test_a_cycle_before_the_last_run_is_refused_and_writes_nothing(
    cycles: dict[str, Any],
) -> None:
    root = cycles["root"]
    before = _tree(root)
    res = runner.invoke(app, ["cycle", "-c", str(root / "x4.yaml"), "--as-of", MIDDLE])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert f"--as-of {MIDDLE} is before the last run's as_of {LATER}" in text, text
    assert "nothing was written" in text
    assert _tree(root) == before
