"""What a scoring job returns: its own module, so the report can take it without importing
the job that builds it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from customer_ml.recs.published import Published
from customer_ml.scoring.models import Models

__all__ = ["JobResult"]


@dataclass
class JobResult:
    """The outputs of one scoring run as of `as_of`, written into `out`."""

    out: Path
    as_of: dt.date
    scores: pd.DataFrame
    metrics: dict[str, Any]
    models: Models
    migration: dict[str, pd.DataFrame] = field(default_factory=dict)
    promotions: dict[str, str] = field(default_factory=dict)
    features: pd.DataFrame | None = field(default=None, repr=False)  # the feature store frame
    recs: Published | None = field(default=None, repr=False)  # recommendations as of as_of
