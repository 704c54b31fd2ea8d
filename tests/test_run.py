"""`customer-ml run` / `score` / `target`: the scoring contract, parity between batch and
one-customer scoring, migration, atomic outputs, reuse of champions, data without amounts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.config import load_config
from customer_ml.data.load import load_data
from customer_ml.jobs.batch import score_job
from customer_ml.scoring.feature_store import read_store
from customer_ml.scoring.models import load_models
from customer_ml.scoring.score import CustomerScorer
from tests.conftest import REPO

CHECKER = REPO.parent / "shared" / "tools" / "check_run_output.py"
runner = CliRunner()


def check_contract(out: Path, customers: int) -> None:
    if not CHECKER.is_file():
        pytest.skip(f"{CHECKER} not present")
    args = [sys.executable, str(CHECKER), str(out), "--transactions-customers", str(customers)]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_run_meets_the_contract(trained) -> None:
    path, result = trained
    cfg = load_config(path)
    data = load_data(cfg)
    n = data.con.execute(
        f"SELECT count(DISTINCT customer_id) FROM transactions WHERE ts <= "
        f"TIMESTAMP '{result.as_of} 23:59:59.999999'"
    ).fetchone()[0]
    check_contract(cfg.paths.out, n)
    metrics = json.loads((cfg.paths.out / "metrics.json").read_text())
    for task, baselines in (("churn", {"logistic_rfm", "bgnbd"}), ("ltv", {"bgnbd_gg"})):
        bt = metrics["models"][task]["backtest"]
        assert baselines <= set(bt["ranking"])
        assert all(r["n"] > 0 for r in bt["per_origin"])
        assert "promoted to champion" in metrics["models"][task]["gate"]
    html = (cfg.paths.out / "report.html").read_text()
    assert html.count("<img") >= 6 and "backtest of every candidate" in html


def test_one_customer_scores_exactly_as_in_the_batch(trained) -> None:
    path, _ = trained
    cfg = load_config(path)
    scorer = CustomerScorer(load_models(cfg), read_store(cfg.paths.out), cfg)
    batch = pd.read_parquet(cfg.paths.out / "scores.parquet").set_index("customer_id")
    frame = scorer.store.frame
    for i in np.linspace(0, len(frame) - 1, 7).astype(int):
        one = scorer.score(frame.iloc[[i]]).iloc[0]
        row = batch.loc[one["customer_id"]]
        for col in ("churn_probability", "expected_purchases", "predicted_ltv"):
            assert one[col] == row[col], col
        for col in ("segment_name", "value_tier", "lifecycle_stage", "rfm_score"):
            assert one[col] == row[col], col
        assert list(one["top_reasons"]) == list(row["top_reasons"])
        assert list(one["tags"]) == list(row["tags"])
    # the same customer sent with its features (BTYD columns recomputed) scores the same
    sent = frame.iloc[[3]].drop(columns=[c for c in frame if c.startswith(("bgnbd", "pnbd"))])
    again = scorer.score(scorer.store.complete(sent)).iloc[0]
    assert again["churn_probability"] == batch.loc[again["customer_id"], "churn_probability"]


def test_score_reports_migration_and_an_interrupted_score_leaves_outputs(
    trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, result = trained
    cfg = load_config(path)
    out = cfg.paths.out.parent / "scored"
    first = score_job(cfg, as_of=result.as_of - pd.Timedelta(days=400), out=out)
    assert not first.migration
    second = score_job(cfg, as_of=result.as_of, out=out)
    moved = second.migration["lifecycle_stage_customers"]
    # every customer of either run is counted once: new ones in the "(new)" row
    assert moved.to_numpy().sum() == len(
        set(first.scores.customer_id) | set(second.scores.customer_id)
    )
    assert moved.loc["(new)"].sum() == len(
        set(second.scores.customer_id) - set(first.scores.customer_id)
    )
    assert (out / "migration_segment_name_value.csv").is_file()
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("customer_ml.jobs.batch.write_scores", boom)
    with pytest.raises(KeyboardInterrupt):
        score_job(cfg, as_of=result.as_of, out=out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".scored")]


def test_target_ranks_by_value_at_risk(trained) -> None:
    path, _ = trained
    res = runner.invoke(app, ["target", "-c", str(path), "--top", "5"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    cfg = load_config(path)
    listed = pd.read_csv(cfg.paths.out / "target_retention.csv")
    assert listed["value_at_risk"].is_monotonic_decreasing
    assert listed["recommended_action"].notna().all()
    bad = runner.invoke(app, ["target", "-c", str(path), "--playbook", "nope"])
    assert bad.exit_code == 2 and "no playbook 'nope'" in bad.output


def test_reuse_models_trains_nothing(trained) -> None:
    path, _ = trained
    from customer_ml.tracking.backend import open_store
    from customer_ml.tracking.registry import list_versions

    cfg = load_config(path)
    n = len(list_versions(open_store(cfg.paths.mlruns)))
    res = runner.invoke(app, ["run", "-c", str(path), "--reuse-models"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "reused the registered champion" in res.output
    assert len(list_versions(open_store(cfg.paths.mlruns))) == n


def _run_with(folder: Path, settings: str) -> None:
    """`customer-ml run` on a config of `settings` in `folder` (outputs in folder/out)."""
    (folder / "c.yaml").write_text(settings + "paths: {out: out, mlruns: mlruns}\n")
    res = runner.invoke(app, ["run", "-c", str(folder / "c.yaml")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_run_on_ids_and_dates_only(tmp_path: Path) -> None:
    """No amounts: predicted_ltv is empty and expected_purchases carries the value."""
    from customer_ml.data.synthetic import generate

    tx = generate(1200, seed=9, days=600, acquisition_days=300).transactions
    tx[["customer_id", "ts"]].to_csv(tmp_path / "visits.csv", index=False)
    _run_with(
        tmp_path,
        "data: {transactions: {path: visits.csv, columns: {customer_id: customer_id, ts: ts}}}\n"
        "backtest: {n_origins: 1, n_train_cutoffs: 2, n_boot: 20}\n"
        "tuning: {n_trials: 2, timeout_s: 5, max_rounds: 100}\n",
    )
    s = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert s["predicted_ltv"].isna().all()
    assert (s["expected_purchases"] >= 0).all() and s["expected_purchases"].std() > 0
    check_contract(tmp_path / "out", tx["customer_id"].nunique())


@pytest.mark.slow
def test_run_without_bootstrap_intervals(tmp_path: Path) -> None:
    """`backtest.n_boot: 0` skips the intervals: estimates alone in metrics.json and the report."""
    _run_with(
        tmp_path,
        "data: {synthetic: {n_customers: 800, with_events: false}}\n"
        "backtest: {n_origins: 1, n_train_cutoffs: 1, n_boot: 0}\n"
        "tuning: {n_trials: 1, timeout_s: 5, max_rounds: 30}\n",
    )
    check_contract(tmp_path / "out", 800)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    summary = pd.DataFrame(metrics["models"]["churn"]["backtest"]["summary"])
    assert summary["estimate"].notna().all() and summary["ci_low"].isna().all()
    html = (tmp_path / "out" / "report.html").read_text()
    chosen = metrics["models"]["churn"]["params"]["chosen"]
    row = summary[(summary["candidate"] == chosen) & (summary["metric"] == "roc_auc")].iloc[0]
    assert f"chosen on roc_auc, {row['estimate']:.3f};" in html
    assert "[nan" not in html and "None" not in html
