"""The MLflow store: sqlite under mlruns/ by default, `MLFLOW_TRACKING_URI` overrides it.

Nothing here runs at import time; `open_store` sets the tracking URI when a job starts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient

from customer_ml.data.dataset import Dataset
from customer_ml.data.io import fetch_one

__all__ = [
    "data_fingerprint",
    "experiment_id",
    "model_name",
    "open_store",
    "quiet_downloads",
    "tracking_uri",
]


_URI_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def tracking_uri(mlruns: Path) -> str:
    """`MLFLOW_TRACKING_URI` if the user set it, else sqlite:///<mlruns>/mlflow.db."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path(mlruns).resolve() / 'mlflow.db'}"


def open_store(mlruns: Path) -> MlflowClient:
    """Point MLflow at the store (creating mlruns/ for the default sqlite one).

    ``mlflow.set_tracking_uri`` also exports the URI to the environment; it is put back as
    the user left it, so that a URI chosen here never reads back as the user's override: not
    by a second project's store in this process, nor by a process started from it (the
    service, a notebook kernel)."""
    uri = tracking_uri(mlruns)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    before = {k: os.environ.get(k) for k in _URI_VARS}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(client: MlflowClient, name: str, mlruns: Path) -> str:
    """The experiment `name`, created with artifacts under mlruns/artifacts/<name> (for the
    default sqlite store; a tracking server keeps its own artifact root)."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    location = None
    if tracking_uri(mlruns).startswith("sqlite:"):
        location = (Path(mlruns).resolve() / "artifacts" / name).as_uri()
    return str(client.create_experiment(name, artifact_location=location))


@contextlib.contextmanager
def quiet_downloads() -> Iterator[None]:
    """MLflow draws a progress bar per artifact download (on stderr, in notebooks too)."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    old = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def model_name(project: str, task: str) -> str:
    """One registered model (and one experiment) per project and task, e.g. cdnow-churn."""
    return f"{project}-{task}"


def data_fingerprint(data: Dataset) -> dict[str, Any]:
    """Row counts, customers, date range and an order-independent content hash of each table:
    enough to tell whether two runs saw the same data, with no personal values in it."""
    out: dict[str, Any] = {}
    for table, present in (
        ("transactions", data.has_transactions),
        ("customers", data.has_customers),
        ("events", data.has_events),
    ):
        if not present:
            continue
        cols = data.con.execute(f"DESCRIBE {table}").fetchall()
        has_ts = any(c[0] == "ts" for c in cols)
        span = ", min(ts), max(ts)" if has_ts else ""
        row = fetch_one(
            data.con,
            f"SELECT count(*), count(DISTINCT customer_id), bit_xor(hash({table})){span} "
            f"FROM {table}",
        )
        info: dict[str, Any] = {
            "rows": int(row[0]),
            "customers": int(row[1]),
            "hash": f"{int(row[2] or 0):016x}",
        }
        if has_ts:
            info["first_ts"], info["last_ts"] = str(row[3]), str(row[4])
        out[table] = info
    return out
