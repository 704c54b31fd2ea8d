"""A real MLflow sqlite store: runs, metrics, artifacts, registry aliases, the promotion gate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.config import parse_config
from customer_ml.data.load import load_data
from customer_ml.models.scorers import LogisticScorer
from customer_ml.tracking.backend import open_store, tracking_uri
from customer_ml.tracking.pyfunc import unwrap
from customer_ml.tracking.registry import list_versions, promote
from customer_ml.train.jobs import prepare_frames, train_task
from tests.conftest import REPO

RAW = {
    "project": "t",
    "data": {"synthetic": {"n_customers": 1200, "with_events": False}},
    "as_of": "2024-12-15",
    "horizon_days": 90,
    "backtest": {"n_origins": 2, "n_train_cutoffs": 2, "n_boot": 20},
    "tuning": {"n_trials": 3, "max_rounds": 200},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mlruns")


@pytest.fixture(scope="module")
def cfg(store):
    return parse_config({**RAW, "paths": {"mlruns": str(store)}}, base_dir=REPO)


@pytest.fixture(scope="module")
def data(cfg):
    return load_data(cfg)


@pytest.fixture(scope="module")
def frames(data, cfg):
    return prepare_frames(data, cfg, as_of=cfg.as_of)


@pytest.fixture(scope="module")
def first(data, cfg, frames):
    return train_task(data, cfg, task="churn", frames=frames)


def test_a_run_logs_metrics_artifacts_and_a_loadable_model(first, cfg, store, data) -> None:
    client = open_store(cfg.paths.mlruns)
    assert tracking_uri(store).startswith("sqlite:///") and (store / "mlflow.db").is_file()
    run = client.get_run(first.run_id)
    m = run.data.metrics
    assert m["roc_auc"] == pytest.approx(first.backtest.score(first.chosen))
    for name in ("recency_only", "frequency_only", "logistic_rfm", "bgnbd", "pnbd"):
        assert f"{name}.roc_auc" in m and f"{name}.roc_auc_ci_low" in m
    assert run.data.params["chosen"] == first.chosen
    history = client.get_metric_history(first.run_id, f"origin.{first.chosen}.roc_auc")
    assert sorted(h.step for h in history) == [0, 1]
    names = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"config.json", "data_fingerprint.json", "backtest.json", "plots"} <= names
    plots = {a.path for a in client.list_artifacts(first.run_id, "plots")}
    assert {"plots/gains.png", "plots/calibration.png"} <= plots
    tree = hasattr(first.model.scorer, "booster_")
    assert ("plots/shap_summary.png" in plots) == tree
    if tree:  # a tuned LightGBM won: its study is logged
        tuning = {a.path for a in client.list_artifacts(first.run_id, "tuning")}
        assert tuning == {"tuning/trials.csv", "tuning/optimization_history.png"}
        assert "tuned.num_leaves" in run.data.params
    # artifacts live under mlruns/artifacts/<experiment>
    assert any((store / "artifacts" / "t-churn").rglob("MLmodel"))
    # no customer id anywhere in the logged files (input example is synthetic)
    ids = set(data.con.execute("SELECT DISTINCT customer_id FROM transactions").df().customer_id)
    text = " ".join(
        p.read_text(errors="ignore")
        for p in (store / "artifacts").rglob("*")
        if p.is_file() and p.suffix in (".json", ".yaml", ".txt", "")
    )
    assert not [i for i in list(ids)[:200] if i in text]
    # the registered challenger loads by alias and predicts like the in-memory model
    loaded = unwrap("models:/t-churn@challenger")
    example = loaded.scorer.features_in_
    snap = prepare_frames(data, cfg, as_of=cfg.as_of).by_cutoff
    last = snap[max(snap)]
    np.testing.assert_allclose(loaded.scorer.predict(last), first.model.scorer.predict(last))
    assert loaded.task == "churn" and loaded.horizon_days == 90 and example
    pyfunc = mlflow.pyfunc.load_model("models:/t-churn@challenger")
    np.testing.assert_allclose(
        pyfunc.predict(last[example].astype(float)), loaded.scorer.predict(last)
    )


def test_registry_aliases_and_the_promotion_gate(first, data, cfg, frames) -> None:
    client = open_store(cfg.paths.mlruns)
    assert first.version == "1"
    assert str(client.get_model_version_by_alias("t-churn", "challenger").version) == "1"
    ok = promote(client, "t-churn")
    assert ok.promoted
    assert str(client.get_model_version_by_alias("t-churn", "champion").version) == "1"
    assert not promote(client, "t-churn").promoted  # already the champion
    assert first.chosen != "frequency_only"
    # a worse challenger: the champion is re-scored on the same backtest and wins
    worse = train_task(
        data,
        cfg,
        task="churn",
        frames=frames,
        candidates={"frequency_only": LogisticScorer(("frequency",))},
    )
    mv = client.get_model_version("t-churn", worse.version)
    assert mv.tags["champion_version"] == "1"
    assert float(mv.tags["champion_metric"]) == pytest.approx(first.backtest.score(first.chosen))
    refused = promote(client, "t-churn")
    assert not refused.promoted and "refused" in refused.message
    assert str(client.get_model_version_by_alias("t-churn", "champion").version) == "1"
    forced = promote(client, "t-churn", force=True)
    assert forced.promoted and "forced" in forced.message
    assert "forced_promotion" in client.get_model_version("t-churn", worse.version).tags
    table = list_versions(client, prefix="t-")
    assert list(table.version) == [1, 2]
    assert table.set_index("version").loc[2, "aliases"] == "challenger,champion"


def test_tracking_uri_env_overrides(monkeypatch, tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert tracking_uri(Path("mlruns")) == uri


def test_cli_evaluate_train_list_promote(tmp_path) -> None:
    cfg = {**RAW, "paths": {"mlruns": "mlruns", "out": "out"}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = CliRunner().invoke
    r = run(app, ["evaluate", "-c", str(path)])
    assert r.exit_code == 0, r.output
    report = (tmp_path / "out" / "baselines.json").read_text()
    assert '"churn"' in report and '"ltv"' in report and "NaN" not in report
    r = run(app, ["train", "all", "-c", str(path)])
    assert r.exit_code == 0, r.output
    assert "registered t-ltv v1 as challenger" in r.output
    written = json.loads((tmp_path / "out" / "train_churn.json").read_text())
    assert written["chosen"] == written["ranking"][0], written
    assert written["version"] == "1", r.output
    assert "registered t-segments v1 as challenger" in r.output
    r = run(app, ["models", "promote", "segments", "-c", str(path)])
    assert r.exit_code == 0 and "champion" in r.output
    r = run(app, ["models", "promote", "ltv", "-c", str(path)])
    assert r.exit_code == 0 and "champion" in r.output
    r = run(app, ["models", "promote", "ltv", "-c", str(path)])
    assert r.exit_code == 1 and "already the champion" in r.output
    r = run(app, ["models", "list", "-c", str(path)], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "t-churn" in r.output and "normalized_gini" in r.output
    r = run(app, ["train", "nope", "-c", str(path)])
    assert r.exit_code != 0


def test_a_second_store_in_the_same_process_is_not_shadowed(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    open_store(tmp_path / "a")
    # nor in a process started from this one (the service): nothing is left exported
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    assert tracking_uri(tmp_path / "b") == f"sqlite:///{(tmp_path / 'b').resolve()}/mlflow.db"
    # a user's own override is honoured, also after a store was opened
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mine.db'}")
    open_store(tmp_path / "c")
    assert tracking_uri(tmp_path / "d") == f"sqlite:///{tmp_path / 'mine.db'}"
