"""Snapshot features: hand-computed expectations for a tiny table, and point-in-time rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_ml.config import CleaningConfig, FeaturesConfig
from customer_ml.data.load import from_frames
from customer_ml.features import build_labels, build_snapshot, feature_catalogue

AS_OF = "2024-03-31"
FEAT = FeaturesConfig(windows=(30, 90), event_windows=(30,), top_categories=2)


def tiny_tx() -> pd.DataFrame:
    """a: 3 purchase days (one with two rows) + a return; b: one purchase; c: after as_of."""
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "a", "b", "c"],
            "ts": pd.to_datetime(
                [
                    "2024-01-01 10:00:00",
                    "2024-01-01 18:00:00",
                    "2024-02-10 09:00:00",
                    "2024-03-11 12:00:00",
                    "2024-03-12 12:00:00",
                    "2024-03-31 23:59:59",
                    "2024-04-01 00:00:00",
                ]
            ),
            "order_id": ["o1", "o2", "o3", "o4", "C4", "o5", "o6"],
            "product_id": ["p1", "p2", "p1", "p3", "p3", "p9", "p1"],
            "category": ["toys", "toys", "books", "home", "home", "books", "toys"],
            "channel": ["web", "web", "app", "web", "web", "store", "web"],
            "quantity": [1, 3, 2, 1, -1, 5, 1],
            "amount": [10.0, 30.0, 20.0, 40.0, -40.0, 50.0, 5.0],
        }
    )


def tiny_data(tx: pd.DataFrame | None = None, ev: pd.DataFrame | None = None):
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "age": [23, 41, 70],
            "region": ["north", "south", "east"],
            "signup_ts": pd.to_datetime(["2023-12-01", "2024-03-01", "2024-04-01"]),
        }
    )
    events = (
        ev
        if ev is not None
        else pd.DataFrame(
            {
                "customer_id": ["a", "a", "b", "a"],
                "ts": pd.to_datetime(["2024-03-01", "2024-03-20", "2024-03-30", "2024-04-02"]),
                "event_type": ["browse", "support", "browse", "browse"],
            }
        )
    )
    return from_frames(
        tx if tx is not None else tiny_tx(),
        customers,
        events,
        cleaning=CleaningConfig(returns="net", cancellation_pattern="^C"),
    )


@pytest.fixture(scope="module")
def snap() -> pd.DataFrame:
    return build_snapshot(tiny_data(), as_of=AS_OF, config=FEAT).set_index("customer_id")


def test_only_customers_seen_by_as_of(snap) -> None:
    assert list(snap.index) == ["a", "b"]  # c's first purchase is after as_of


def test_rfm_and_btyd(snap) -> None:
    a, b = snap.loc["a"], snap.loc["b"]
    assert (a.n_purchases, a.frequency, a.recency_days, a["T"], a.recency) == (3, 2, 20, 90, 70)
    assert (b.n_purchases, b.frequency, b.recency_days, b["T"], b.recency) == (1, 0, 0, 0, 0)
    assert a.monetary_mean == pytest.approx((40 + 20 + 40) / 3)  # per purchase-day
    assert a.monetary_value == pytest.approx((20 + 40) / 2)  # repeat purchases only
    assert a.monetary_total == pytest.approx(60.0)  # 100 bought, 40 returned (netted)
    assert b.monetary_value == 0


def test_inter_purchase_times(snap) -> None:
    a = snap.loc["a"]
    assert a.ipt_mean_days == pytest.approx(35)  # gaps 40 and 30
    assert a.ipt_std_days == pytest.approx(np.std([40, 30], ddof=1))
    assert a.last_gap_days == 30
    assert a.gap_ratio == pytest.approx(20 / 35)
    assert pd.isna(snap.loc["b"].ipt_mean_days)


def test_windows_and_trends(snap) -> None:
    a = snap.loc["a"]
    # last 30 days: (03-01, 03-31] holds 03-11; the 30 before: (01-31, 03-01] holds 02-10
    assert (a.purchases_30d, a.spend_30d, a.purchases_trend_30d) == (1, 40.0, 0.0)
    assert a.spend_trend_30d == pytest.approx((40 - 20) / 60)
    assert (a.purchases_90d, a.spend_90d) == (2, 60.0)  # (2024-01-01, 03-31]: not 01-01
    assert a.purchases_trend_90d == pytest.approx((2 - 1) / 3)  # 01-01 is in the 90 before


def test_basket_and_shares(snap) -> None:
    a = snap.loc["a"]
    assert a.return_rate == pytest.approx(1 / 5)
    assert a.items_per_order == pytest.approx(7 / 4)  # 7 items in 4 purchase orders
    assert (a.n_orders, a.distinct_products, a.distinct_categories) == (4, 3, 3)
    # top 2 categories by rows up to as_of: home (2) and toys (2) ... books (2): ties by name
    assert {c for c in snap.columns if c.startswith("category_share_")} == {
        "category_share_books",
        "category_share_home",
    }
    assert a.category_share_home == pytest.approx(2 / 5)
    assert a.channel_share_web == pytest.approx(4 / 5) and a.channel_share_app == 1 / 5
    assert snap.loc["b"].dow_share_sun == 1.0  # 2024-03-31 is a Sunday


def test_events_and_attributes(snap) -> None:
    a, b = snap.loc["a"], snap.loc["b"]
    # (03-01 23:59:59, 03-31 23:59:59]: the 03-01 00:00 browse is 30 days and a bit ago
    assert (a.events_30d, a.events_browse_30d, a.events_support_30d) == (1, 0, 1)
    assert a.days_since_last_event == 11  # the 04-02 event is after as_of
    assert b.days_since_last_event == 1
    assert (a.attr_age_band, b.attr_age_band) == ("18-24", "35-44")
    assert a.days_since_signup == 121
    assert a.attr_region == "north"


def test_every_feature_is_in_the_catalogue(snap) -> None:
    cat = feature_catalogue(list(snap.columns))
    assert len(cat) == len(snap.columns)
    assert cat.description.str.len().gt(5).all() and cat.unit.ne("").all()


def test_appending_later_rows_changes_nothing() -> None:
    base = build_snapshot(tiny_data(), as_of=AS_OF, config=FEAT)
    rng = np.random.default_rng(0)
    n = 200
    later = pd.DataFrame(
        {
            "customer_id": rng.choice(["a", "b", "c", "d"], n),
            "ts": pd.Timestamp("2024-04-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
            "order_id": [f"x{i}" for i in range(n)],
            "product_id": rng.choice(["p1", "p7", "p8"], n),
            "category": rng.choice(["toys", "garden", "food"], n),  # would change the top-2
            "channel": rng.choice(["web", "phone"], n),
            "quantity": rng.integers(-2, 5, n),
            "amount": rng.normal(30, 20, n).round(2),
        }
    )
    more_ev = pd.DataFrame(
        {
            "customer_id": ["a"] * 50,
            "event_type": ["click"] * 50,
            "ts": pd.Timestamp("2024-04-01") + pd.to_timedelta(range(50), "h"),
        }
    )
    ev = pd.concat([tiny_data().table("events"), more_ev])
    after = build_snapshot(tiny_data(pd.concat([tiny_tx(), later]), ev), as_of=AS_OF, config=FEAT)
    pd.testing.assert_frame_equal(base, after, check_exact=True)


def test_a_first_return_after_as_of_changes_nothing() -> None:
    """Without returns up to as_of the snapshot SQL leaves out their bookkeeping; a return
    after as_of must not bring it back in (or change any bit)."""
    tx = tiny_tx().drop(index=4)  # the one return
    keep = CleaningConfig(returns="keep")
    base = build_snapshot(from_frames(tx, cleaning=keep), as_of=AS_OF, config=FEAT)
    later = tx.iloc[[0]].assign(ts=pd.Timestamp("2024-04-02"), quantity=-1, amount=-10.0)
    data = from_frames(pd.concat([tx, later]), cleaning=keep)
    assert data.table("transactions")["is_return"].sum() == 1
    after = build_snapshot(data, as_of=AS_OF, config=FEAT)
    pd.testing.assert_frame_equal(base, after, check_exact=True)
    assert (base["return_rate"] == 0).all()


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no division warning for the dropped row
def test_a_customer_with_only_returns_has_no_snapshot() -> None:
    returns_only = tiny_tx().iloc[[0]].assign(customer_id="z", quantity=-1, amount=-10.0)
    data = from_frames(
        pd.concat([tiny_tx(), returns_only]), cleaning=CleaningConfig(returns="keep")
    )
    snap = build_snapshot(data, as_of=AS_OF, config=FEAT)
    assert "z" in set(data.table("transactions")["customer_id"])
    assert set(snap["customer_id"]) == {"a", "b"}


def test_a_window_longer_than_the_calendar_holds_everything() -> None:
    cfg = FeaturesConfig(windows=(30, 1_000_000), event_windows=(30,), top_categories=2)
    snap = build_snapshot(tiny_data(), as_of=AS_OF, config=cfg).set_index("customer_id")
    assert (snap["purchases_1000000d"] == snap["n_purchases"]).all()
    assert (snap["purchases_trend_1000000d"] == 1).all()


def test_label_window_starts_after_the_feature_window() -> None:
    tx = tiny_tx()
    extra = pd.DataFrame(
        {
            "customer_id": ["b", "a", "a"],
            "ts": pd.to_datetime(
                ["2024-04-30 23:59:59", "2024-05-01 00:00:00", "2024-06-30 00:00:00"]
            ),
            "order_id": ["y1", "y2", "y3"],
            "product_id": "p1",
            "category": "toys",
            "channel": "web",
            "quantity": 1,
            "amount": [7.0, 9.0, 1.0],
        }
    )
    ds = tiny_data(pd.concat([tx, extra]))
    lab = build_labels(ds, as_of=AS_OF, horizon_days=30).set_index("customer_id")
    # b's purchase at 03-31 23:59:59 is history; its 04-30 23:59:59 one is the last label second
    assert list(lab.index) == ["a", "b"]  # c (first purchase after as_of) gets no label
    assert lab.loc["b"].tolist() == [1, 7.0, False]
    assert lab.loc["a"].tolist() == [0, 0.0, True]  # 05-01 00:00 is past the horizon
    snap = build_snapshot(ds, as_of=AS_OF, config=FEAT).set_index("customer_id")
    assert snap.loc["b"].n_purchases == 1  # ... and the label rows are not features


def test_no_amount_still_works() -> None:
    tx = tiny_tx().drop(columns=["amount"])
    snap = build_snapshot(from_frames(tx), as_of=AS_OF, config=FEAT)
    assert "monetary_total" not in snap and "spend_30d" not in snap
    assert snap.set_index("customer_id").loc["a"].n_purchases == 3
    assert len(feature_catalogue(list(snap.columns))) == snap.shape[1] - 1
