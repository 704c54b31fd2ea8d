"""The arrays engine: batches cut at customer boundaries, and the same vector as the SQL
engine (and so as the pandas reference) whatever the batch size and thread count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from customer_ml.config import CleaningConfig, FeaturesConfig
from customer_ml.data.load import from_frames
from customer_ml.features import behaviour, build_snapshot
from tests.features.test_reference import messy_transactions


def reader(ids: list[list[str]]) -> pa.RecordBatchReader:
    """Batches of (customer_id, row number) with the given ids per batch."""
    n, batches = 0, []
    for part in ids:
        batches.append(pa.record_batch({"customer_id": part, "row": range(n, n + len(part))}))
        n += len(part)
    return pa.RecordBatchReader.from_batches(batches[0].schema, batches)


@pytest.mark.parametrize(
    "ids",
    [
        [["a", "a", "b"], ["b", "c"], ["d"]],  # cut inside b; a batch of one whole customer
        [["a", "b", "b"], ["b"], ["b", "b"], ["b", "c"]],  # b spans four batches
        [["a", "b"], ["c", "c"], [], ["c", "d", "d"]],  # an empty batch; carry goes on
        [["a"], ["b"], ["c"]],  # every batch ends where a customer ends
        [["a", "a", "a"]],
    ],
)
def test_chunks_hold_whole_customers_in_order(ids: list[list[str]]) -> None:
    chunks = list(behaviour._chunks(reader(ids)))
    rows = [r for batch, _ in chunks for r in batch.column("row").to_pylist()]
    flat = [i for part in ids for i in part]
    assert rows == list(range(len(flat)))  # every row once, in order
    firsts = []
    for batch, starts in chunks:
        got = batch.column("customer_id").to_pylist()
        runs = [0] + [i for i in range(1, len(got)) if got[i] != got[i - 1]]
        assert list(starts) == runs
        firsts += [got[i] for i in runs]
    assert firsts == sorted(set(flat))  # no customer is cut between two chunks


@pytest.mark.parametrize(("batch_rows", "threads"), [(64, 1), (64, 2), (5_000, 2)])
@pytest.mark.parametrize("returns", ["keep", "drop"])
def test_arrays_engine_equals_sql_engine(
    monkeypatch: pytest.MonkeyPatch, batch_rows: int, threads: int, returns: str
) -> None:
    monkeypatch.setattr(behaviour, "BATCH_ROWS", batch_rows)
    real = behaviour.behaviour_table
    monkeypatch.setattr(
        "customer_ml.features.snapshot.behaviour_table",
        lambda *a, **k: real(*a, **k, threads=threads),
    )
    data = from_frames(messy_transactions(7), cleaning=CleaningConfig(returns=returns))  # type: ignore[arg-type]
    kw = {"as_of": "2023-10-15 12:00", "categories": ["books", "toys"], "channels": ["web"]}
    arrays = build_snapshot(data, config=FeaturesConfig(windows=(30, 90)), **kw)
    sql = build_snapshot(data, config=FeaturesConfig(windows=(30, 90), engine="sql"), **kw)
    assert len(arrays) > 300
    # sums in another order: the std formula (a difference of squares) magnifies that
    pd.testing.assert_frame_equal(arrays, sql, check_exact=False, rtol=1e-9, atol=1e-9)


def test_rows_out_of_customer_order_are_refused() -> None:
    ids = pa.chunked_array([["a", "b", "a"]])
    with pytest.raises(RuntimeError, match="out of customer order"):
        behaviour._check_order(ids)
    behaviour._check_order(pa.chunked_array([["a", "c", "b"]]))  # unique runs: accepted


def test_no_rows_up_to_the_cutoff_gives_the_empty_vector() -> None:
    data = from_frames(messy_transactions(8))
    early = "2000-01-01"
    arrays = build_snapshot(data, as_of=early, categories=["books"], channels=["web"])
    sql = build_snapshot(
        data,
        as_of=early,
        categories=["books"],
        channels=["web"],
        config=FeaturesConfig(engine="sql"),
    )
    assert arrays.empty and list(arrays.columns) == list(sql.columns)
    assert np.all(arrays.dtypes.to_numpy() == sql.dtypes.to_numpy())
