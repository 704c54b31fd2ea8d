"""The real files beside the repo load with their published counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_ml.config import load_config, parse_config
from customer_ml.data.io import fetch_one
from customer_ml.data.load import load_data
from tests.conftest import shared_file

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.realdata


def test_cdnow_master() -> None:
    shared_file("cdnow", "CDNOW_master.txt")
    ds = load_data(load_config(REPO / "configs" / "cdnow.yaml"))
    assert ds.cleaning.rows_read == 69_659
    assert ds.cleaning.rows_kept == 69_659
    assert ds.cleaning.customers == 23_570
    assert ds.cleaning.purchases == 67_591  # day-level after the same-day merge
    assert ds.cleaning.same_day_rows_merged == 2_068
    total = fetch_one(ds.con, "SELECT sum(amount), sum(quantity) FROM transactions")
    assert total[0] == pytest.approx(2_500_315.63, abs=0.01)
    assert total[1] == 167_881
    assert ds.table("transactions").customer_id.str.len().eq(5).all()  # zero padding kept


def _online_retail(**cleaning: object) -> dict:
    return {
        "data": {
            "transactions": {
                "path": str(shared_file("online_retail", "online_retail.csv.gz")),
                "columns": {
                    "customer_id": "CustomerID",
                    "ts": "InvoiceDate",
                    "unit_price": "UnitPrice",
                    "quantity": "Quantity",
                    "order_id": "InvoiceNo",
                    "product_id": "StockCode",
                },
            }
        },
        "cleaning": cleaning,
    }


def test_online_retail_standard_filter() -> None:
    """CustomerID present, quantity > 0, price > 0, no 'C' invoice: 397,884 rows."""
    raw = _online_retail(
        drop_duplicates=False,
        returns="drop",
        cancellation_pattern="^C",
        drop_nonpositive_price=True,
    )
    ds = load_data(parse_config(raw, base_dir=REPO))
    assert ds.cleaning.rows_read == 541_909
    assert ds.cleaning.rows_kept == 397_884
    assert ds.cleaning.customers == 4_338
    assert ds.cleaning.removed("missing customer id") == 135_080
    orders = fetch_one(ds.con, "SELECT count(DISTINCT order_id) FROM transactions")
    assert orders == (18_532,)


def test_online_retail_shipped_config_counts_every_step() -> None:
    shared_file("online_retail", "online_retail.csv.gz")
    ds = load_data(load_config(REPO / "configs" / "online_retail.yaml"))
    c = ds.cleaning
    assert c.rows_read == 541_909
    assert c.removed("exact duplicate rows") == 5_268
    assert c.rows_read - sum(n for _, n in c.steps) == c.rows_kept
    assert c.returns_kept > 0  # netted, not dropped
    neg = fetch_one(ds.con, "SELECT count(*) FROM transactions WHERE is_return AND amount >= 0")
    assert neg == (0,)


def test_telco_loads_as_a_customers_table_with_its_label() -> None:
    shared_file("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    ds = load_data(load_config(REPO / "configs" / "telco.yaml"))
    assert not ds.has_transactions
    cust = ds.table("customers")
    assert len(cust) == 7_043
    assert int(cust.churned.sum()) == 1_869
    assert cust.TotalCharges.dtype.kind == "f"  # blanks read as missing numbers
    assert int(cust.TotalCharges.isna().sum()) == 11
    assert "PhoneService" in cust.columns  # not mistaken for a phone number
