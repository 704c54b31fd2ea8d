"""CDNOW 1/10 sample as of 1997-09-30 reproduces the published BTYD calibration table."""

from __future__ import annotations

import pytest

from tests.conftest import cdnow_sample_snapshot

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def summary():
    return cdnow_sample_snapshot()


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
