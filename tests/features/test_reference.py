"""The snapshot (both engines) equals a plain pandas groupby of the same definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_ml.config import CleaningConfig, FeaturesConfig
from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import generate
from customer_ml.features import build_snapshot
from customer_ml.features.reference import reference_snapshot


def messy_transactions(seed: int) -> pd.DataFrame:
    """Synthetic rows plus same-day repeats, returns and duplicated timestamps."""
    rng = np.random.default_rng(seed)
    tx = generate(400, seed=seed, days=400, with_events=False).transactions
    tx = tx.assign(customer_id=tx["customer_id"].astype(str), order_id=tx["order_id"].astype(str))
    extra = tx.sample(300, random_state=seed).assign(
        ts=lambda f: f["ts"] + pd.to_timedelta(rng.integers(0, 3600, 300), unit="s"),
        order_id=lambda f: "x" + f["order_id"],
    )
    returns = tx.sample(150, random_state=seed + 1).assign(
        ts=lambda f: f["ts"] + pd.Timedelta(days=2),
        quantity=lambda f: -f["quantity"],
        amount=lambda f: -f["amount"],
        order_id=lambda f: "r" + f["order_id"],
    )
    out = pd.concat([tx, extra, returns], ignore_index=True)
    blank = rng.random(len(out)) < 0.03  # a row without an order id is an order of its own
    return out.assign(order_id=out["order_id"].astype(object).where(~blank, None))


@pytest.mark.parametrize("engine", ["arrays", "sql"])
@pytest.mark.parametrize(
    ("seed", "as_of", "merge", "windows", "returns"),
    [
        (1, "2023-09-30", True, (30, 90), "keep"),
        (2, "2023-12-15 13:30:00", True, (30, 90), "keep"),  # a cutoff in the middle of a day
        (3, "2023-11-01", False, (30, 90), "keep"),  # a purchase is an order
        # 150 days of data: the 120-day window's "before" reaches past the first transaction
        (4, "2023-05-31", True, (30, 120), "keep"),
        (5, "2023-10-31", False, (30, 90), "drop"),  # no returns: the SQL without their CASEs
    ],
)
def test_snapshot_matches_pandas_reference(
    seed: int, as_of: str, merge: bool, windows: tuple[int, ...], returns: str, engine: str
) -> None:
    tx = messy_transactions(seed)
    cleaning = CleaningConfig(returns=returns, merge_same_day=merge)  # type: ignore[arg-type]
    data = from_frames(tx, cleaning=cleaning)
    cats, chans = ["books", "toys", "home"], ["web", "app"]
    cfg = FeaturesConfig(windows=windows, engine=engine)  # type: ignore[arg-type]
    snap = build_snapshot(data, as_of=as_of, config=cfg, categories=cats, channels=chans)
    canonical = data.table("transactions")
    ref = reference_snapshot(
        canonical,
        as_of=as_of,
        windows=windows,
        categories=cats,
        channels=chans,
        merge_same_day=merge,
    )
    assert (data.table("transactions")["is_return"].sum() > 0) == (returns == "keep")
    assert list(snap["customer_id"]) == list(ref["customer_id"])
    missing = set(snap.columns) - set(ref.columns)
    assert missing == set(), missing
    for col in ref.columns[1:]:
        np.testing.assert_allclose(
            snap[col].astype(float), ref[col].astype(float), rtol=1e-9, atol=1e-9, err_msg=col
        )
