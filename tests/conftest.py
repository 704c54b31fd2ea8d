"""Shared fixtures: the real datasets beside the repo (skipped cleanly when absent)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CUSTOMER_ML_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def shared_file(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have the shared data: {path} is missing")
        pytest.skip(f"{path} not present")
    return path


@functools.cache
def _cdnow_sample_snapshot(path: Path) -> pd.DataFrame:
    from customer_ml.config import parse_config
    from customer_ml.data.load import load_data
    from customer_ml.features import build_snapshot

    cfg = parse_config(
        {
            "data": {
                "transactions": {
                    "path": str(path),
                    "read_options": {"sep": r"\s+", "header": False},
                    "columns": {"customer_id": "column1", "ts": "column2", "amount": "column4"},
                    "ts_format": "%Y%m%d",
                }
            },
            "cleaning": {"drop_duplicates": False, "drop_nonpositive_price": False},
        },
        base_dir=REPO,
    )
    return build_snapshot(load_data(cfg), as_of="1997-09-30").set_index("customer_id")


def cdnow_sample_snapshot() -> pd.DataFrame:
    """The CDNOW 1/10 sample's snapshot as of 1997-09-30 (the published 39-week calibration)."""
    return _cdnow_sample_snapshot(shared_file("cdnow", "CDNOW_sample.txt")).copy()


@pytest.fixture
def repo() -> Path:
    return REPO


TRAINED_CONFIG = """\
data: {synthetic: {n_customers: 1500, days: 600, acquisition_days: 300}}
project: svc
backtest: {n_origins: 1, n_train_cutoffs: 2, n_boot: 20}
tuning: {n_trials: 2, timeout_s: 5, max_rounds: 100}
serving: {max_batch: 50}
paths: {out: out, mlruns: mlruns}
"""


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A small synthetic project trained, promoted and scored once by `run_job`:
    (config path, JobResult); its outputs are in <tmp>/out, its MLflow store in <tmp>/mlruns."""
    from customer_ml.config import load_config
    from customer_ml.jobs.batch import run_job

    root = tmp_path_factory.mktemp("trained")
    path = root / "svc.yaml"
    path.write_text(TRAINED_CONFIG)
    return path, run_job(load_config(path))
