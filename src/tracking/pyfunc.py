"""A fitted scorer as an MLflow pyfunc model: predict = churn probability or forecast value.

Consumers load it by alias (``models:/<project>-<task>@champion``); `unwrap` returns the
scorer itself with its `contributions`, and the snapshot schema it was trained on.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from customer_ml.models.scorers import Scorer
from customer_ml.tracking.backend import quiet_downloads

__all__ = ["ScorerModel", "input_example", "log_scorer", "unwrap"]

# what loading a logged scorer needs (given explicitly: inferring them costs seconds per model)
REQUIREMENTS = ["numpy", "pandas", "scipy", "scikit-learn", "lightgbm", "mlflow"]


class ScorerModel(PythonModel):
    """Wraps a fitted scorer with what scoring needs besides it."""

    def __init__(self, scorer: Scorer, *, task: str, horizon_days: int, schema: dict[str, Any]):
        self.scorer = scorer
        self.task = task
        self.horizon_days = horizon_days
        self.schema = schema

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return np.asarray(self.scorer.predict(model_input), float)


def input_example(
    frame: pd.DataFrame, columns: list[str], *, n: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Synthetic rows: each column drawn independently from its own quantiles, so no row is
    a real customer's and no identifier is included. All float: the signature takes the
    features as doubles (``frame[cols].astype(float)``), which also admits missing values."""
    rng = np.random.default_rng(seed)
    qs = rng.uniform(0.05, 0.95, size=(n, len(columns)))
    out = {}
    for j, c in enumerate(columns):
        col = frame[c]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            # a category column (contractual attributes): its most common levels, as text
            levels = col.dropna().astype(str).value_counts().index[:3].to_numpy()
            out[c] = levels[(qs[:, j] * len(levels)).astype(int)] if len(levels) else [""] * n
            continue
        v = pd.to_numeric(col, errors="coerce").dropna().astype(float)
        out[c] = np.quantile(v, qs[:, j]) if len(v) else np.zeros(n)
    return pd.DataFrame(out)


def log_scorer(
    model: ScorerModel, *, frame: pd.DataFrame, name: str = "model"
) -> mlflow.models.model.ModelInfo:
    """Log to the active run with a signature and a synthetic input example."""
    cols = list(model.scorer.features_in_)
    example = input_example(frame, cols)
    signature = infer_signature(example, model.scorer.predict(example))
    # mlflow.pyfunc warns that a python_model object is cloudpickled and logs the input
    # example's validation; both are expected here, so keep them out of the user's log
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_log.level
    pyfunc_log.setLevel(logging.ERROR)
    try:
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=model,
            signature=signature,
            input_example=example,
            pip_requirements=REQUIREMENTS,
        )
    finally:
        pyfunc_log.setLevel(level)


def unwrap(model_uri: str) -> ScorerModel:
    """Load a logged scorer (e.g. ``models:/cdnow-churn@champion``) with its metadata."""
    with quiet_downloads():
        loaded = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    if not isinstance(loaded, ScorerModel):
        raise TypeError(f"{model_uri} is not a customer-ml scorer")
    return loaded
