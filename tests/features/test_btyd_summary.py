"""CDNOW 1/10 sample as of 1997-09-30 reproduces the published BTYD calibration table."""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_ml.config import parse_config
from customer_ml.data.load import load_data
from customer_ml.features import build_snapshot
from tests.conftest import shared_file

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def summary():
    path = shared_file("cdnow", "CDNOW_sample.txt")
    cfg = parse_config(
        {
            "data": {
                "transactions": {
                    "path": str(path),
                    "read_options": {"sep": r"\s+", "header": False},
                    "columns": {"customer_id": "column1", "ts": "column2", "amount": "column4"},
                    "ts_format": "%Y%m%d",
                }
            },
            "cleaning": {"drop_duplicates": False, "drop_nonpositive_price": False},
        },
        base_dir=Path.cwd(),
    )
    snap = build_snapshot(load_data(cfg), as_of="1997-09-30")
    return snap.set_index("customer_id")


def test_counts(summary) -> None:
    assert len(summary) == 2_357
    assert int((summary.frequency > 0).sum()) == 946
    assert int(summary.frequency.sum()) == 2_457


@pytest.mark.parametrize(
    ("sample_id", "x", "t_x", "T"),
    [
        ("0001", 2, 30.43, 38.86),
        ("0002", 1, 1.71, 38.86),
        ("0100", 1, 23.86, 38.29),
        ("1000", 4, 24.43, 33.57),
    ],
)
def test_published_rows(summary, sample_id: str, x: int, t_x: float, T: float) -> None:
    row = summary.loc[sample_id]
    assert row.frequency == x
    assert row.recency / 7 == pytest.approx(t_x, abs=0.005)
    assert row["T"] / 7 == pytest.approx(T, abs=0.005)
