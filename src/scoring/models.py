"""The models a scoring run uses: churn, LTV and segments, fresh from training or the
registry's `champion` aliases (``models:/<project>-<task>@champion``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mlflow
import mlflow.artifacts
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.pipeline import Pipeline

from customer_ml.config import Config
from customer_ml.errors import DataError
from customer_ml.models.segments import explain_segments, pipeline_columns
from customer_ml.tracking.backend import model_name, open_store, quiet_downloads
from customer_ml.tracking.pyfunc import ScorerModel, unwrap
from customer_ml.tracking.registry import version_by_alias

__all__ = ["Models", "SegmentModel", "load_models"]


@dataclass
class SegmentModel:
    """The fitted segmentation pipeline and a name per segment."""

    pipeline: Pipeline
    names: dict[int, str]

    @property
    def columns(self) -> list[str]:
        return pipeline_columns(self.pipeline)

    def assign(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline.predict(frame), int)

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per feature: how much it favours the assigned segment over the next nearest."""
        return explain_segments(self.pipeline, frame, self.columns)


@dataclass
class Models:
    """What scores a customer. `versions` names the registered versions (task -> version)."""

    churn: ScorerModel
    ltv: ScorerModel
    segments: SegmentModel
    versions: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)  # task -> MLflow run id

    @property
    def schema(self) -> dict[str, Any]:
        return self.churn.schema

    @property
    def horizon_days(self) -> int:
        return self.churn.horizon_days


def _version(client: MlflowClient, name: str, alias: str) -> Any:
    mv = version_by_alias(client, name, alias)
    if mv is None:
        raise DataError(
            f"no {alias} for {name} in the registry: train first (customer-ml run or "
            f"customer-ml train all, then customer-ml models promote)"
        )
    return mv


def load_models(config: Config, *, alias: str = "champion") -> Models:
    """The models registered under `alias` for the config's project (loaded, not refit)."""
    client = open_store(config.paths.mlruns)
    project = config.project_name
    loaded: dict[str, Any] = {}
    versions: dict[str, str] = {}
    runs: dict[str, str] = {}
    for task in ("churn", "ltv", "segments"):
        name = model_name(project, task)
        mv = _version(client, name, alias)
        versions[task], runs[task] = str(mv.version), str(mv.run_id)
        uri = f"models:/{name}@{alias}"
        with quiet_downloads():
            if task == "segments":
                names = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/segment_names.json")
                pipe = mlflow.sklearn.load_model(uri)
                loaded[task] = SegmentModel(pipe, {int(k): str(v) for k, v in names.items()})
            else:
                loaded[task] = unwrap(uri)
    return Models(loaded["churn"], loaded["ltv"], loaded["segments"], versions, runs)
