"""Materialise a snapshot (behaviour vector + tags) to Parquet: the service's feature store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.features.snapshot import build_snapshot
from customer_ml.features.tags import tag_columns
from customer_ml.files import atomic_file, write_parquet

__all__ = ["build_features", "write_features"]


def build_features(
    data: Dataset, *, as_of: str | dt.date | pd.Timestamp, config: Config
) -> pd.DataFrame:
    """The behaviour vector with its tags, one row per customer seen up to `as_of`."""
    snap = build_snapshot(data, as_of=as_of, config=config.features).reset_index(drop=True)
    # one row per customer: the tag columns line up with the snapshot's rows (no join)
    out = snap.assign(**tag_columns(snap, config.tags))
    out.insert(1, "as_of", pd.Timestamp(as_of).normalize())
    return out


def write_features(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write atomically: a failure leaves any previous file as it was."""
    path = Path(path)
    with atomic_file(path) as tmp:
        write_parquet(frame, tmp)
    return path
