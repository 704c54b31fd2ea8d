"""Shared fixtures: the real datasets beside the repo (skipped cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CUSTOMER_ML_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")


def shared_file(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have the shared data: {path} is missing")
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO
