"""Batch scoring on Spark equals the local job's scores (champions from the MLflow registry,
SHAP reasons, segments, actions), customer by customer, and the CLI's Spark paths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_ml.batch import run_job
from customer_ml.batch_spark import spark_score_job, spark_target
from customer_ml.cli import app
from customer_ml.data.synthetic import generate
from customer_ml.scoring.playbook import playbook
from customer_ml.scoring.store import read_store
from tests.spark.helpers import by_customer, mismatches, write_config

EXACT = ["segment", "segment_name", "value_tier", "lifecycle_stage", "rfm_score",
         "rfm_segment", "tags", "churn_probability", "expected_purchases",
         "recommended_action", "action_channel"]  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A synthetic project (transactions only) trained, promoted and scored locally."""
    root = tmp_path_factory.mktemp("spark-project")
    tx = generate(800, seed=3, days=600, acquisition_days=300, with_events=False).transactions
    tx.to_parquet(root / "tx.parquet", index=False)
    cfg = write_config(
        root,
        {
            "data": {"transactions": {"path": "tx.parquet",
                                      "columns": {c: c for c in tx.columns}}},
            "project": "sparkparity",
            "backtest": {"n_origins": 1, "n_train_cutoffs": 2, "n_boot": 10},
            "tuning": {"n_trials": 0, "max_rounds": 60},
            "paths": {"out": "out", "mlruns": "mlruns"},
        },
    )  # fmt: skip
    return cfg, run_job(cfg)


def test_spark_scores_equal_the_local_job(spark, project, tmp_path) -> None:
    cfg, local = project
    done = spark_score_job(cfg, as_of=local.as_of, out=tmp_path / "out")
    folder = tmp_path / "out"
    scores = pd.read_parquet(folder / "scores.parquet")
    assert sorted(p.name for p in (folder / "scores.parquet").glob("segment=*")) == [
        f"segment={s}" for s in sorted(local.scores["segment"].unique())
    ]
    assert done.customers == len(local.scores) == len(scores)
    want, got = by_customer(local.scores), by_customer(scores)
    # the same models on the same features: the same labels, numbers to 1e-9
    assert mismatches(want[["customer_id", *EXACT, "predicted_ltv", "value_at_risk"]], got) == {}
    for col in ("top_reasons", "ltv_reasons"):  # a cent may round the other way
        same = np.mean([list(a) == list(b) for a, b in zip(want[col], got[col], strict=True)])
        assert same >= 0.99, (col, same)
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
    top = spark_target(spark, folder, playbook=playbook(cfg, "retention"), top=5)
    best = want.sort_values(["value_at_risk", "customer_id"], ascending=[False, True]).head(5)
    assert list(top["customer_id"]) == list(best["customer_id"])


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
