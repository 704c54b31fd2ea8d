"""The feature store: the scoring frame as of a date (behaviour vector + BTYD columns) in
Parquet, with what scoring a customer sent from outside needs (the schema, the BTYD models'
parameters fit on this snapshot). Batch scoring, the service and notebooks all read it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.errors import DataError
from customer_ml.features.snapshot import build_snapshot
from customer_ml.files import atomic_file, write_parquet
from customer_ml.models.btyd_features import btyd_features, fit_btyd, from_params, to_params

__all__ = [
    "REQUIRED_SENT",
    "FeatureStore",
    "build_store",
    "read_store",
    "scoring_frame",
    "stored_as_of",
]

#: what a customer sent with features (not looked up) must carry: the BTYD summary and RFM
REQUIRED_SENT = ("recency_days", "n_purchases", "frequency", "recency", "T")
FRAME, META = "features.parquet", "features.json"


@dataclass
class FeatureStore:
    """One row per customer seen up to `as_of` (rows with ts <= as_of only)."""

    frame: pd.DataFrame
    as_of: dt.date
    horizon_days: int
    schema: dict[str, Any]
    btyd: dict[str, Any]  # fitted BTYD parameters and the fallback spend per purchase

    def __post_init__(self) -> None:
        self.frame = consolidate(self.frame)
        self._index = pd.Index(self.frame["customer_id"].astype(str))

    def lookup(self, ids: list[Any]) -> np.ndarray:
        """Row positions of `ids` (compared as text), -1 for unknown ones."""
        return np.asarray(self._index.get_indexer([str(i) for i in ids]))

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c != "customer_id"]

    def complete(self, sent: pd.DataFrame) -> pd.DataFrame:
        """Rows of sent features as scoring rows: the store's columns (missing ones empty)
        and the BTYD columns computed with the models fit on the store's snapshot."""
        missing = [c for c in REQUIRED_SENT if c not in sent or sent[c].isna().any()]
        if missing:
            raise ValueError(f"features must include {missing}")
        base = sent.reindex(columns=self.frame.columns)
        for c in self.frame.columns:  # keep the store's dtypes where the values allow
            if pd.api.types.is_numeric_dtype(self.frame[c]):
                base[c] = pd.to_numeric(base[c], errors="coerce").astype(float)
        snap = base.drop(columns=[c for c in base if c.startswith(BTYD_PREFIXES)])
        cols = btyd_features(
            snap,
            horizon_days=self.horizon_days,
            models=from_params(self.btyd["params"]),
            mean_spend=self.btyd["mean_spend"],
        )
        return consolidate(pd.concat([snap, cols], axis=1)[self.frame.columns])

    def write(self, folder: Path) -> Path:
        """features.parquet and features.json into `folder`, each atomically."""
        with atomic_file(folder / FRAME) as tmp:
            write_parquet(self.frame, tmp)
        meta = {
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "schema": self.schema,
            "btyd": self.btyd,
            "customers": len(self.frame),
        }
        with atomic_file(folder / META) as tmp:
            tmp.write_text(json.dumps(meta, indent=2))
        return folder / FRAME


BTYD_PREFIXES = ("bgnbd_", "pnbd_", "gg_")


def consolidate(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as one float block (fast column selection for every model), text as is, in
    the original column order."""
    frame = frame.reset_index(drop=True)
    num = [
        str(c)
        for c, d in frame.dtypes.items()
        if c != "customer_id"
        and (pd.api.types.is_numeric_dtype(d) or pd.api.types.is_bool_dtype(d))
    ]
    if not num:
        return frame
    floats = pd.DataFrame(frame[num].to_numpy(dtype=float, na_value=np.nan), columns=num)
    return pd.concat([frame.drop(columns=num), floats], axis=1)[list(frame.columns)]


def stored_as_of(folder: str | Path) -> dt.date | None:
    """The as_of of the feature store in `folder` (its features.json alone), or None."""
    meta = Path(folder) / META
    try:
        return dt.date.fromisoformat(json.loads(meta.read_text())["as_of"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_store(folder: str | Path) -> FeatureStore:
    folder = Path(folder)
    # features.parquet: a file, or a folder of Parquet parts (written by Spark)
    if not (folder / FRAME).exists() or not (folder / META).is_file():
        raise DataError(f"{folder}: no feature store ({FRAME} + {META}); run `customer-ml score`")
    meta = json.loads((folder / META).read_text())
    return FeatureStore(
        pd.read_parquet(folder / FRAME),
        as_of=dt.date.fromisoformat(meta["as_of"]),
        horizon_days=int(meta["horizon_days"]),
        schema=meta["schema"],
        btyd=meta["btyd"],
    )


def build_store(
    data: Dataset, *, as_of: dt.date, config: Config, schema: dict[str, Any]
) -> FeatureStore:
    """The snapshot as of `as_of` (rows with ts <= as_of only) in the models' schema, with
    BTYD forecasts from models fit on that snapshot."""
    snap = build_snapshot(data, as_of=as_of, config=config.features, **schema)
    if snap.empty:
        raise DataError(f"no customer has a transaction on or before {as_of}")
    models = fit_btyd(snap, seed=config.seed)
    mean_spend = float(np.nanmean(snap["monetary_mean"])) if "monetary_mean" in snap else None
    cols = btyd_features(
        snap, horizon_days=config.horizon_days, models=models, mean_spend=mean_spend
    )
    return FeatureStore(
        pd.concat([snap, cols], axis=1),
        as_of=as_of,
        horizon_days=config.horizon_days,
        schema=schema,
        btyd={"params": to_params(models), "mean_spend": mean_spend},
    )


def scoring_frame(
    data: Dataset,
    *,
    as_of: str | dt.date | pd.Timestamp,
    config: Config,
    schema: dict[str, Any],
) -> pd.DataFrame:
    """Every customer with a purchase at or before `as_of` (rows with ts <= as_of only), with
    the schema (category / channel / event columns) the model was trained on: the frame of
    the feature store as of that day."""
    return build_store(data, as_of=pd.Timestamp(as_of).date(), config=config, schema=schema).frame
