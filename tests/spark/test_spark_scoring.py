"""Batch scoring on Spark equals the local job's scores (champions from the MLflow registry,
SHAP reasons, segments, actions), customer by customer, and the CLI's Spark paths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.data.synthetic import generate
from customer_ml.jobs.batch import run_job
from customer_ml.jobs.spark import spark_target
from customer_ml.scoring.campaign import campaign_folder
from customer_ml.scoring.feature_store import read_store
from customer_ml.scoring.targets import target_list
from tests.conftest import shared_file
from tests.spark.helpers import by_customer, mismatches, write_config

EXACT = ["segment", "segment_name", "value_tier", "lifecycle_stage", "rfm_score",
         "rfm_segment", "tags", "churn_probability", "expected_purchases",
         "recommended_action", "action_channel"]  # fmt: skip


TRAINING = {
    "backtest": {"n_origins": 1, "n_train_cutoffs": 2, "n_boot": 10},
    "tuning": {"n_trials": 0, "max_rounds": 60},
    "paths": {"out": "out", "mlruns": "mlruns"},
}


def _synthetic(root):
    tx = generate(600, seed=3, days=600, acquisition_days=300, with_events=False).transactions
    tx.to_parquet(root / "tx.parquet", index=False)
    return {"transactions": {"path": "tx.parquet", "columns": {c: c for c in tx.columns}}}


def _cdnow(root):
    path = shared_file("cdnow", "CDNOW_sample.txt")
    return {
        "transactions": {
            "path": str(path),
            "read_options": {"sep": r"\s+", "header": False},
            "columns": {"customer_id": "column1", "ts": "column2", "amount": "column4"},
            "ts_format": "%Y%m%d",
        }
    }


@pytest.fixture(
    scope="module", params=["synthetic", pytest.param("cdnow", marks=pytest.mark.realdata)]
)
def project(request, tmp_path_factory):
    """A project (transactions only) trained, promoted and scored by the local job."""
    root = tmp_path_factory.mktemp(f"spark-{request.param}")
    data = _synthetic(root) if request.param == "synthetic" else _cdnow(root)
    raw = {"data": data, "project": f"parity-{request.param}", **TRAINING}
    if request.param == "cdnow":
        raw["cleaning"] = {"drop_duplicates": False, "drop_nonpositive_price": False}
    cfg = write_config(root, raw)
    return request.param, cfg, run_job(cfg)


def test_spark_scores_equal_the_local_job(spark, project, tmp_path) -> None:
    dataset, cfg, local = project
    folder = tmp_path / "out"
    args = ["score", "-c", str(cfg.source), "--as-of", str(local.as_of), "-o", str(folder)]
    res = CliRunner().invoke(app, [*args, "--engine", "spark"])  # the suite's session
    assert res.exit_code == 0, res.output
    assert f"scored {len(local.scores):,} customers as of {local.as_of} on Spark" in res.output
    scores = pd.read_parquet(folder / "scores.parquet")
    assert sorted(p.name for p in (folder / "scores.parquet").glob("segment=*")) == [
        f"segment={s}" for s in sorted(local.scores["segment"].unique())
    ]
    assert len(local.scores) == len(scores)
    want, got = by_customer(local.scores), by_customer(scores)
    # the same models on the same features: the same labels, numbers to 1e-9
    assert mismatches(want[["customer_id", *EXACT, "predicted_ltv", "value_at_risk"]], got) == {}
    for col in ("top_reasons", "ltv_reasons"):
        same = np.mean([list(a) == list(b) for a, b in zip(want[col], got[col], strict=True)])
        assert same >= 0.999, (col, same)
    store = read_store(folder)  # the service's loader reads the Spark feature store
    assert store.as_of == local.as_of and len(store.frame) == len(scores)
    assert store.btyd["params"]["bgnbd"] == pytest.approx(
        json.loads((local.out / "features.json").read_text())["btyd"]["params"]["bgnbd"],
        rel=1e-9,
    )
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["engine"] == "spark" and metrics["customers"] == len(scores)
    assert metrics["scores"]["churn_probability_mean"] == pytest.approx(
        local.metrics["scores"]["churn_probability_mean"], rel=1e-9
    )
    if dataset != "synthetic":
        return
    # target: the same ranked list, the same control group, the same campaign manifest
    shown, path = spark_target(cfg, folder, playbook="retention", top=5, spark=spark)
    shown_local, path_local = target_list(cfg, local.out, playbook="retention", top=5)
    assert list(shown["customer_id"]) == list(shown_local["customer_id"])
    ours, theirs = pd.read_csv(path), pd.read_csv(path_local)
    assert list(ours["customer_id"]) == list(theirs["customer_id"])
    assert (ours["group"] == theirs["group"]).all() and (ours["group"] == "control").any()
    assert mismatches(theirs, ours) == {}
    name = f"retention-{local.as_of}"
    ours, theirs = (
        json.loads((campaign_folder(f, name) / "campaign.json").read_text())
        for f in (folder, local.out)
    )
    assert ours == theirs and ours["control"] > 0


def test_cli_spark_bad_input_exits_2_naming_the_key(tmp_path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "data:\n  transactions: {path: tx.csv, columns: {customer_id: id, ts: ts}}\n"
        "  events: {path: ev.csv, columns: {customer_id: id, ts: ts, event_type: e}}\n"
    )
    res = CliRunner().invoke(app, ["score", "-c", str(cfg), "--engine", "spark", "-o",
                                   str(tmp_path / "out")])  # fmt: skip
    assert res.exit_code == 2 and "data.events" in res.output
    assert not (tmp_path / "out").exists()
    res = CliRunner().invoke(app, ["features", "-c", str(cfg), "--engine", "hadoop", "--out",
                                   str(tmp_path / "f")])  # fmt: skip
    assert res.exit_code == 2 and "--engine 'hadoop'" in res.output
