"""Migration between two runs: a hand-made case gives the exact matrices."""

from __future__ import annotations

import pandas as pd
import pytest

from customer_ml.scoring.migration import GONE, NEW, migration_figure, transition_matrix

BEFORE = pd.Series({"a": "A", "b": "A", "c": "B", "d": "B", "e": "C"})
AFTER = pd.Series({"a": "A", "b": "B", "c": "B", "d": "A", "f": "C"})


def test_counts() -> None:
    t = transition_matrix(BEFORE, AFTER)
    want = pd.DataFrame(
        [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]],
        index=["A", "B", "C", NEW],
        columns=["A", "B", "C", GONE],
        dtype=float,
    )
    pd.testing.assert_frame_equal(t, want, check_names=False)
    assert t.to_numpy().sum() == 6  # every customer once


def test_revenue_weighted_and_row_shares() -> None:
    revenue = pd.Series({"a": 10.0, "b": 20.0, "c": 5.0, "d": 0.0, "f": 7.0})
    t = transition_matrix(BEFORE, AFTER, weights=revenue)
    assert t.loc["A", "A"] == 10 and t.loc["A", "B"] == 20
    assert t.loc["B", "B"] == 5 and t.loc["B", "A"] == 0
    assert t.loc[NEW, "C"] == 7 and t.loc["C", GONE] == 0  # e has no revenue after
    shares = transition_matrix(BEFORE, AFTER, normalize=True)
    assert shares.loc["A"].tolist() == [0.5, 0.5, 0.0, 0.0]
    assert shares.loc["C", GONE] == 1.0
    w_shares = transition_matrix(BEFORE, AFTER, weights=revenue, normalize=True)
    assert w_shares.loc["A", "B"] == pytest.approx(2 / 3)
    assert (w_shares.loc["C"] == 0).all()  # a row with no weight stays zero, not NaN


def test_duplicates_are_an_error_and_the_figure_draws() -> None:
    with pytest.raises(ValueError, match="more than once"):
        transition_matrix(pd.Series(["A", "B"], index=["x", "x"]), AFTER)
    fig = migration_figure(transition_matrix(BEFORE, AFTER, normalize=True), title="segments")
    assert len(fig.axes) == 1
