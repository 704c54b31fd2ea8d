"""Drift of the behaviour vector and of the predictions between two snapshots, computed by
Evidently (its Report with the DataDrift preset; the per-column method and threshold are
Evidently's defaults for the column's type and size).

Some features grow with the calendar alone: a customer's age T and the days since the first
purchase rise by the days elapsed between the two snapshots, and the days since the last
purchase (and BTYD recency) rise with them for everyone who did not buy again. Comparing
them raw would flag every run for time passing, so they are compared in a form that time
alone does not move (`align_time`):

- ages (T, days since the first purchase or signup) are taken back by the days elapsed, and
  customers first seen after the reference date drop out of that comparison (the report
  counts them as new customers);
- recencies (days since the last purchase or event, BTYD recency) are compared as a share of
  the customer's age (value / T), which stays put for a customer who keeps the same rhythm.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["AGE", "RECENCY", "align_time", "drift_report"]

AGE = re.compile(r"^(T|days_since_signup)$")
RECENCY = re.compile(r"^(recency|recency_days|days_since_last_event)$")
METHOD = (
    "ages (T, days since signup) taken back by the days elapsed, customers first seen after "
    "the reference date left out of them; recencies (days since the last purchase or event, "
    "BTYD recency) compared as a share of the customer's age T"
)


def _evidently() -> Any:
    """Evidently's Report API, imported with its usage tracking off.

    Evidently 0.7 imports a pandas 2 helper that pandas 3 removed
    (``pandas.core.dtypes.common.infer_dtype_from_object``; only a legacy column-type test
    calls it): an equivalent is put in its place before the import.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import pandas.core.dtypes.common as common

    if not hasattr(common, "infer_dtype_from_object"):

        def infer_dtype_from_object(dtype: Any) -> type:
            return pd.api.types.pandas_dtype(dtype).type

        common.infer_dtype_from_object = infer_dtype_from_object
    import evidently
    from evidently.presets import DataDriftPreset

    return evidently, DataDriftPreset


def align_time(
    reference: pd.DataFrame, current: pd.DataFrame, *, days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two snapshots with the calendar-driven features in a time-free form (see the
    module docstring); `days` is the time between the two as_of dates."""
    ref, cur = reference.copy(), current.copy()
    for frame, shift in ((ref, 0), (cur, days)):
        age = frame.get("T")
        for col in [c for c in frame.columns if RECENCY.match(str(c))]:
            if age is not None:
                frame[col] = frame[col] / age.where(age > 0)
        for col in [c for c in frame.columns if AGE.match(str(c))]:
            shifted = frame[col] - shift
            frame[col] = shifted.where(shifted >= 0)
    return ref, cur


def drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, *, columns: list[str]
) -> dict[str, dict[str, Any]]:
    """Per column: Evidently's drift statistic, its threshold, the method and `drifted`.
    Numeric columns are compared as numbers, the others (attributes) as categories.

    Columns empty or constant in the reference are skipped (no distribution to compare).
    """
    evidently, preset = _evidently()
    usable = [
        c
        for c in columns
        if reference[c].notna().sum() > 1 and reference[c].nunique(dropna=True) > 1
    ]
    if not usable:
        return {}
    numeric = [c for c in usable if pd.api.types.is_numeric_dtype(reference[c])]
    categorical = [c for c in usable if c not in numeric]
    definition = evidently.DataDefinition(
        numerical_columns=numeric, categorical_columns=categorical
    )

    def dataset(frame: pd.DataFrame) -> Any:
        block = frame[numeric].astype(float).replace([np.inf, -np.inf], np.nan)
        block[categorical] = frame[categorical].astype(str)
        return evidently.Dataset.from_pandas(block, data_definition=definition)

    report = evidently.Report([preset()])
    result = report.run(dataset(current), dataset(reference)).dict()
    out: dict[str, dict[str, Any]] = {}
    for metric in result["metrics"]:
        cfg = metric["config"]
        if not cfg.get("type", "").endswith("ValueDrift"):
            continue
        value, threshold, method = float(metric["value"]), float(cfg["threshold"]), cfg["method"]
        # p-value methods flag values below the threshold, distances values above it
        p_value = "p_value" in method.lower() or "test" in method.lower()
        drifted = value < threshold if p_value else value >= threshold
        out[cfg["column"]] = {
            "drifted": bool(drifted),
            "statistic": value,
            "threshold": threshold,
            "method": method,
        }
    return out
