"""The Spark snapshot, labels and tags equal the local engine's, on CDNOW and on synthetic
data with returns, and follow the same point-in-time rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from customer_ml.data.load import load_data
from customer_ml.data.synthetic import generate
from customer_ml.features import build_labels, build_snapshot
from customer_ml.features.materialise import build_features
from customer_ml.features.spark import load_spark_data, spark_features, spark_labels, spark_snapshot
from tests.conftest import shared_file
from tests.spark.helpers import by_customer, mismatches, write_config


def arrow(frame) -> pd.DataFrame:
    return frame.toArrow().to_pandas()


@pytest.mark.realdata
def test_cdnow_features_tags_and_labels_equal_the_local_engine(spark, tmp_path) -> None:
    path = shared_file("cdnow", "CDNOW_master.txt")
    cfg = write_config(
        tmp_path,
        {
            "data": {
                "transactions": {
                    "path": str(path),
                    "read_options": {"sep": r"\s+"},
                    "columns": {"customer_id": "customer_id", "ts": "date",
                                "amount": "dollar_value", "quantity": "number_of_cds"},
                    "ts_format": "%Y%m%d",
                }
            },
            "cleaning": {"drop_duplicates": False, "drop_nonpositive_price": False},
        },
    )  # fmt: skip
    local, sd = load_data(cfg), load_spark_data(spark, cfg)
    want = build_features(local, as_of="1997-12-31", config=cfg)
    got = arrow(spark_features(sd, as_of="1997-12-31", config=cfg))
    assert len(want) == 23_570 and list(got.columns) == list(want.columns)
    assert mismatches(want, got) == {}
    labels = arrow(spark_labels(sd, as_of="1997-09-30", horizon_days=90))
    assert mismatches(build_labels(local, as_of="1997-09-30", horizon_days=90), labels) == {}
    assert labels["future_purchases"].sum() > 1000  # the window holds real purchases


def synthetic_csv(tmp_path, n: int = 400, seed: int = 5) -> pd.DataFrame:
    """Synthetic transactions with returns (negative quantity, order id 'C...'), as CSV."""
    tx = generate(n, seed=seed, days=400, acquisition_days=200, with_events=False).transactions
    tx = tx.astype({"order_id": str, "customer_id": str, "category": str, "channel": str})
    rng = np.random.default_rng(seed)
    back = tx.sample(frac=0.05, random_state=seed).copy()
    back["ts"] = back["ts"] + pd.to_timedelta(rng.integers(1, 20, len(back)), unit="D")
    back["quantity"], back["amount"] = -back["quantity"], -back["amount"]
    back["order_id"] = "C" + back["order_id"]
    tx = pd.concat([tx, back]).sort_values("ts", kind="stable")
    tx["ts"] = tx["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
    tx.to_csv(tmp_path / "tx.csv", index=False)
    return tx


def synthetic_config(tmp_path, name: str = "tx.csv"):
    cols = ["customer_id", "ts", "amount", "quantity", "order_id", "product_id", "category",
            "channel"]  # fmt: skip
    return write_config(
        tmp_path,
        {
            "data": {"transactions": {"path": name, "columns": {c: c for c in cols}}},
            "cleaning": {"returns": "net", "cancellation_pattern": "^C"},
            "features": {"windows": [30, 90], "top_categories": 3},
        },
    )


def test_synthetic_snapshot_with_returns_equals_the_local_engine(spark, tmp_path) -> None:
    synthetic_csv(tmp_path)
    cfg = synthetic_config(tmp_path)
    local, sd = load_data(cfg), load_spark_data(spark, cfg)
    for as_of in ("2023-06-30", "2024-01-15"):
        want = build_snapshot(local, as_of=as_of, config=cfg.features)
        got = arrow(spark_snapshot(sd, as_of=as_of, config=cfg.features))
        assert list(got.columns) == list(want.columns)
        assert want["return_rate"].max() > 0 and "category_share_" in " ".join(want.columns)
        assert mismatches(want, got) == {}
    want = build_labels(local, as_of="2023-09-30", horizon_days=60)
    assert mismatches(want, arrow(spark_labels(sd, as_of="2023-09-30", horizon_days=60))) == {}


def test_spark_snapshot_sees_rows_up_to_as_of_and_labels_only_the_window(spark, tmp_path):
    tx = synthetic_csv(tmp_path, n=150, seed=9)
    day = dt.date(2023, 8, 31)
    # customer z: a purchase in the last microsecond of as_of, one right after it, one past
    # the label window; later rows of everyone else are cut off in the second file
    edge = pd.DataFrame(
        {"customer_id": ["z", "z", "z"],
         "ts": ["2023-08-31 23:59:59.999999", "2023-09-01 00:00:00", "2023-10-31 00:00:01"],
         "amount": [10.0, 20.0, 40.0], "quantity": [1, 1, 1], "order_id": ["z1", "z2", "z3"],
         "product_id": [1, 1, 1], "category": ["toys"] * 3, "channel": ["web"] * 3}
    )  # fmt: skip
    full = pd.concat([tx, edge])
    ts = pd.to_datetime(full["ts"], format="ISO8601")
    full.to_csv(tmp_path / "full.csv", index=False)
    full[ts < pd.Timestamp("2023-10-31")].to_csv(tmp_path / "cut.csv", index=False)
    full[ts < pd.Timestamp("2023-09-01")].to_csv(tmp_path / "past.csv", index=False)

    def frames(name: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        (tmp_path / name.replace(".csv", "")).mkdir()
        cfg = synthetic_config(tmp_path / name.replace(".csv", ""), f"../{name}")
        sd = load_spark_data(spark, cfg)
        one_schema = {"categories": ["toys"], "channels": ["web"]}
        snap = arrow(spark_snapshot(sd, as_of=day, config=cfg.features, **one_schema))
        snap = by_customer(snap)
        if name == "past.csv":
            return snap, None
        return snap, by_customer(arrow(spark_labels(sd, as_of=day, horizon_days=60)))

    snap_full, labels_full = frames("full.csv")
    snap_cut, labels_cut = frames("cut.csv")
    snap_past, _ = frames("past.csv")
    # features as of D: the same from data ending at D as from data running months later
    assert mismatches(snap_past, snap_full) == {} and mismatches(snap_past, snap_cut) == {}
    z = snap_full.set_index("customer_id").loc["z"]
    assert z["n_purchases"] == 1 and z["monetary_total"] == 10.0 and z["recency_days"] == 0
    # labels: only (D, D + 60 days]; the row past the window changes nothing
    assert mismatches(labels_cut, labels_full) == {}
    zl = labels_full.set_index("customer_id").loc["z"]
    assert zl["future_purchases"] == 1 and zl["future_spend"] == 20.0
