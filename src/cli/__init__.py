"""The `customer-ml` command line: thin wrappers over library functions.

`common` holds the Typer apps, consoles and shared options; `data`, `train`, `models`,
`jobs` and `monitor` register their commands on import.
"""

from __future__ import annotations

import os
import sys

from customer_ml.cli import data, jobs, models, monitor, recommend, train
from customer_ml.cli.common import app

__all__ = ["app", "data", "jobs", "main", "models", "monitor", "recommend", "train"]


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage tracking
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    sys.exit(app())
