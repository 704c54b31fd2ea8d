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
from customer_ml.features.reference import reference_snapshot
from tests.features.test_reference import messy_transactions


def reader(ids: list[list[int]]) -> pa.RecordBatchReader:
    """Batches of (customer number, row number) with the given customers per batch."""
    n, batches = 0, []
    for part in ids:
        cust = pa.array(part, pa.uint32())
        batches.append(pa.record_batch({"cust": cust, "row": range(n, n + len(part))}))
        n += len(part)
    return pa.RecordBatchReader.from_batches(batches[0].schema, batches)


@pytest.mark.parametrize(
    "ids",
    [
        [[0, 0, 1], [1, 2], [3]],  # cut inside 1; a batch of one whole customer
        [[0, 1, 1], [1], [1, 1], [1, 2]],  # 1 spans four batches
        [[0, 1], [2, 2], [], [2, 3, 3]],  # an empty batch; carry goes on
        [[0], [1], [2]],  # every batch ends where a customer ends
        [[0, 0, 0]],
    ],
)
def test_chunks_hold_whole_customers_in_order(ids: list[list[int]]) -> None:
    chunks = list(behaviour._chunks(reader(ids)))
    rows = [r for batch, _ in chunks for r in batch.column("row").to_pylist()]
    flat = [i for part in ids for i in part]
    assert rows == list(range(len(flat)))  # every row once, in order
    firsts = []
    for batch, starts in chunks:
        got = batch.column("cust").to_pylist()
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
    for cust in ([0, 1, 0], [0, 2, 1], [0, 1, 1]):
        with pytest.raises(RuntimeError, match="out of customer order"):
            behaviour._check_order(np.array(cust, np.uint32))
    behaviour._check_order(np.array([0, 1, 5], np.uint32))  # gaps: customers without rows


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


def test_category_and_channel_codes_with_missing_and_absent_values() -> None:
    """The history stores integer codes for categories and channels; a value asked for that
    the data lacks, and rows without a category or channel, count as other values (both
    engines; the SQL engine once gave NaN shares to a customer with no category at all)."""
    tx = messy_transactions(9)
    rng = np.random.default_rng(9)
    tx["category"] = tx["category"].astype(object).where(rng.random(len(tx)) > 0.1, None)
    tx["channel"] = tx["channel"].astype(object).where(rng.random(len(tx)) > 0.1, None)
    data = from_frames(tx)
    kw = {"as_of": "2023-10-31", "categories": ["toys", "absent", "books"], "channels": ["app"]}
    arrays = build_snapshot(data, **kw)  # type: ignore[arg-type]
    sql = build_snapshot(data, config=FeaturesConfig(engine="sql"), **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(arrays, sql, check_exact=False, rtol=1e-9, atol=1e-9)
    ref = reference_snapshot(data.table("transactions"), **kw)  # type: ignore[arg-type]
    for col in arrays.filter(like="_share_").columns:
        np.testing.assert_allclose(arrays[col], ref[col], rtol=1e-12, err_msg=col)
    assert arrays.filter(like="_share_").notna().all().all()  # no category: share 0
    assert (arrays["category_share_absent"] == 0).all()
    assert 0 < arrays["category_share_toys"].mean() < 1
    shares = arrays[["category_share_toys", "category_share_books"]].sum(axis=1)
    assert (shares <= 1 + 1e-12).all() and (shares < 1).any()  # NULLs count as other values


def test_customer_ids_come_back_by_number_whatever_the_stored_order() -> None:
    data = from_frames(messy_transactions(10))
    build_snapshot(data, as_of="2023-10-31")  # builds the history and its dictionaries
    stored = behaviour._customer_ids(data).to_pylist()
    data.con.execute(
        "CREATE OR REPLACE TABLE history_customers AS "
        "SELECT * FROM history_customers ORDER BY cust DESC"
    )
    assert behaviour._customer_ids(data).to_pylist() == stored == sorted(stored)
