"""Comparing a Spark result with the local engine's, column by column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from customer_ml.config import Config, load_config

LISTS = ("tags", "top_reasons", "ltv_reasons")


def by_customer(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer_id").reset_index(drop=True)


def mismatches(local: pd.DataFrame, spark: pd.DataFrame, *, rtol: float = 1e-9) -> dict:
    """Per column of `local`, the customers whose values differ (numbers: beyond `rtol`)."""
    a, b = by_customer(local), by_customer(spark)
    assert list(a["customer_id"]) == list(b["customer_id"])
    out = {}
    for c in local.columns:
        x, y = a[c], b[c]
        if c in LISTS:
            ok = np.array([list(u) == list(v) for u, v in zip(x, y, strict=True)])
        elif pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            u, v = x.to_numpy(float, na_value=np.nan), y.to_numpy(float, na_value=np.nan)
            ok = np.isclose(u, v, rtol=rtol, atol=rtol, equal_nan=True)
        else:
            ok = x.astype(str).to_numpy() == y.astype(str).to_numpy()
        if not ok.all():
            out[c] = int((~ok).sum())
    return out


def write_config(root: Path, raw: dict) -> Config:
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)
