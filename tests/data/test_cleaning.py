"""Cleaning steps: explicit, configurable, counted."""

from __future__ import annotations

import pandas as pd
import pytest

from customer_ml.config import CleaningConfig, PrivacyConfig
from customer_ml.data.load import from_frames
from customer_ml.errors import DataError


def frame() -> pd.DataFrame:
    """Seven rows: a duplicate, a missing id, a cancellation, a zero price, a postage row."""
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", None, "b", "b", "b", "c"],
            "ts": pd.to_datetime(
                [
                    "2024-01-01 10:00",
                    "2024-01-01 10:00",
                    "2024-01-01 15:00",
                    "2024-01-02 00:00",
                    "2024-01-03 00:00",
                    "2024-01-04 00:00",
                    "2024-01-05 00:00",
                    "2024-01-06 00:00",
                ]
            ),
            "order_id": ["1", "1", "2", "3", "4", "C5", "6", "7"],
            "product_id": ["p1", "p1", "p2", "p1", "p1", "p1", "POST", "p3"],
            "quantity": [1, 1, 2, 1, 3, -3, 1, 1],
            "amount": [10.0, 10.0, 20.0, 5.0, 30.0, -30.0, 4.0, 0.0],
        }
    )


@pytest.mark.parametrize(
    ("cleaning", "removed", "kept"),
    [
        (
            {},
            {
                "exact duplicate rows": 1,
                "missing customer id": 1,
                "returns and cancellations": 1,
                "zero or negative price": 1,
            },
            4,
        ),
        (
            {"drop_duplicates": False},
            {
                "exact duplicate rows": 0,
                "missing customer id": 1,
                "returns and cancellations": 1,
                "zero or negative price": 1,
            },
            5,
        ),
        (
            {"exclude_products": "^POST$"},
            {
                "exact duplicate rows": 1,
                "missing customer id": 1,
                "non-product codes": 1,
                "returns and cancellations": 1,
                "zero or negative price": 1,
            },
            3,
        ),
        (
            {"returns": "net", "drop_nonpositive_price": False},
            {"exact duplicate rows": 1, "missing customer id": 1},
            6,
        ),
    ],
)
def test_steps_are_counted(cleaning: dict, removed: dict, kept: int) -> None:
    ds = from_frames(frame(), cleaning=CleaningConfig(**cleaning))
    assert ds.cleaning.rows_read == 8
    assert dict(ds.cleaning.steps) == removed
    assert ds.cleaning.rows_kept == kept == len(ds.table("transactions"))


def test_returns_net_against_spend_but_not_purchases() -> None:
    ds = from_frames(frame(), cleaning=CleaningConfig(returns="net", cancellation_pattern="^C"))
    tx = ds.table("transactions")
    b = tx[tx.customer_id == "b"]
    assert b.amount.sum() == pytest.approx(4.0)  # 30 bought, 30 returned, 4 postage
    assert b.is_return.sum() == 1
    assert ds.cleaning.returns_kept == 1
    # purchases: a on 01-01 (2 rows merged), b on 01-03 and 01-05; c's zero price is dropped
    assert ds.cleaning.purchases == 3
    assert ds.cleaning.same_day_rows_merged == 1


def test_same_day_merge_can_be_turned_off() -> None:
    ds = from_frames(frame(), cleaning=CleaningConfig(merge_same_day=False))
    assert ds.cleaning.purchases == 4 and ds.cleaning.same_day_rows_merged == 0


def test_cancellation_pattern_marks_returns_without_negative_quantity() -> None:
    f = frame().drop(columns="quantity")
    f.loc[5, "amount"] = 30.0  # the cancellation row now has a positive amount
    ds = from_frames(f, cleaning=CleaningConfig(cancellation_pattern="^C"))
    assert ds.cleaning.removed("returns and cancellations") == 1


def test_pseudonymised_ids_are_consistent_salted_and_deterministic(monkeypatch) -> None:
    cust = pd.DataFrame({"customer_id": ["a", "b", "c"], "region": ["n", "s", "e"]})
    monkeypatch.setenv("CUSTOMER_ML_SALT", "pepper")
    privacy = PrivacyConfig(pseudonymise_ids=True)
    one = from_frames(frame(), cust, privacy=privacy)
    two = from_frames(frame(), cust, privacy=privacy)
    ids1 = set(one.table("transactions").customer_id)
    assert ids1 == set(two.table("transactions").customer_id)
    assert ids1 <= set(one.table("customers").customer_id)
    assert not ids1 & {"a", "b", "c"}
    assert all(len(i) == 16 for i in ids1)
    monkeypatch.setenv("CUSTOMER_ML_SALT", "salt")
    three = from_frames(frame(), cust, privacy=privacy)
    assert not ids1 & set(three.table("transactions").customer_id)


def test_pseudonymisation_without_salt_is_an_error(monkeypatch) -> None:
    monkeypatch.delenv("CUSTOMER_ML_SALT", raising=False)
    with pytest.raises(DataError, match="CUSTOMER_ML_SALT"):
        from_frames(frame(), privacy=PrivacyConfig(pseudonymise_ids=True))


def test_raw_frame_is_not_modified() -> None:
    f = frame()
    copy = f.copy()
    from_frames(f, cleaning=CleaningConfig(returns="net"))
    pd.testing.assert_frame_equal(f, copy)


def test_events_and_customers_from_frames() -> None:
    ev = pd.DataFrame(
        {
            "customer_id": ["a", None, "b"],
            "ts": pd.to_datetime(["2024-01-01"] * 3),
            "event_type": ["browse", "click", "support"],
        }
    )
    cust = pd.DataFrame(
        {"customer_id": ["a", "b"], "signup_ts": ["2023-12-01", "2023-12-02"], "age": ["31", " "]}
    )
    ds = from_frames(frame(), cust, ev)
    assert ds.events_report == {"rows_read": 3, "rows_kept": 2}
    c = ds.table("customers")
    assert c.age.dtype.kind == "f" and c.age.isna().sum() == 1
    assert str(c.signup_ts.dtype).startswith("datetime64")


def test_transactions_read_back_in_time_order_ties_in_file_order() -> None:
    """The canonical table keeps the file's row order (no sort on load); a notebook reading it
    gets time order, rows at the same time as they were in the file."""
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a", "b", "a"],
            "ts": pd.to_datetime(
                ["2024-03-01", "2024-01-01", "2024-01-01", "2024-01-01", "2024-02-01"]
            ),
            "amount": [5.0, 1.0, 2.0, 3.0, 4.0],
        }
    )
    ds = from_frames(tx, cleaning=CleaningConfig(drop_duplicates=False))
    stored = ds.con.execute("SELECT amount FROM transactions ORDER BY rowid").fetchall()
    assert [a for (a,) in stored] == [5.0, 1.0, 2.0, 3.0, 4.0]
    assert list(ds.table("transactions")["amount"]) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert ds.cleaning.purchases == 4  # merge_same_day: b's two rows on one day are one purchase
    ds = from_frames(tx, cleaning=CleaningConfig(drop_duplicates=False, merge_same_day=False))
    assert ds.cleaning.purchases == 5 and ds.cleaning.same_day_rows_merged == 0
