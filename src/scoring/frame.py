"""The frame a model scores: the snapshot as of a date with the BTYD columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.features.snapshot import build_snapshot
from customer_ml.models.btyd_features import btyd_features

__all__ = ["scoring_frame"]


def scoring_frame(
    data: Dataset,
    *,
    as_of: str | dt.date | pd.Timestamp,
    config: Config,
    schema: dict[str, Any],
) -> pd.DataFrame:
    """Every customer with a purchase at or before `as_of` (rows with ts <= as_of only), with
    the schema (category / channel / event columns) the model was trained on."""
    snap = build_snapshot(data, as_of=as_of, config=config.features, **schema)
    btyd = btyd_features(snap, horizon_days=config.horizon_days, seed=config.seed)
    return pd.concat([snap, btyd], axis=1)
