"""The generator: deterministic, vectorised, and its planted parameters are recoverable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import SEGMENTS, cumulative_intensity, generate


@pytest.fixture(scope="module")
def syn():
    return generate(20_000, seed=7)


def test_same_seed_same_output_other_seed_differs() -> None:
    a, b, c = generate(500, seed=1), generate(500, seed=1), generate(500, seed=2)
    for name in ("transactions", "customers", "events", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.transactions.amount.equals(c.transactions.amount)


def test_tables_are_well_formed(syn) -> None:
    tx, truth = syn.transactions, syn.truth
    assert tx.ts.min() >= syn.start and tx.ts.max() < syn.end
    assert (tx.amount > 0).all() and tx.order_id.is_unique
    assert set(tx.customer_id.unique()) == set(truth.customer_id)  # everyone bought once
    n = tx.groupby("customer_id", observed=True).size()
    assert (n.reindex(truth.customer_id).to_numpy() == truth.n_repeat.to_numpy() + 1).all()
    ds = from_frames(tx, syn.customers, syn.events)  # loads cleanly through the data layer
    assert ds.cleaning.rows_kept == len(tx)


def test_no_purchase_after_dropout_and_last_purchase_is_the_dropout(syn) -> None:
    last = syn.transactions.groupby("customer_id", observed=True).ts.max()
    death = syn.truth.set_index("customer_id").death_ts
    dead = death.notna()
    assert dead.mean() > 0.2
    # death happens right after the last purchase (to the second)
    gap = (last[dead[dead].index] - death[dead]).abs()
    assert (gap <= pd.Timedelta(seconds=1)).all()


def test_alive_and_future_agree(syn) -> None:
    as_of = "2024-06-30"
    alive = syn.alive_at(as_of)
    fut = syn.future(as_of, 90)
    assert 0.2 < alive.mean() < 0.9
    # the dead never buy again; most heavy buyers who are alive do
    assert (fut.future_purchases[~alive.to_numpy()] == 0).all()
    assert fut.future_purchases[alive.to_numpy()].gt(0).mean() > 0.5
    with pytest.raises(ValueError, match="past the simulated window"):
        syn.future("2024-12-01", 90)


def test_dropout_probability_per_segment_is_recovered(syn) -> None:
    """P(drop out after the first repeat purchase) estimates the planted mean dropout."""
    t = syn.truth[syn.truth.n_repeat >= 1]
    died_first = (t.n_repeat == 1) & t.death_ts.notna()
    for k, spec in enumerate(SEGMENTS):
        x = died_first[t.segment == k]
        se = np.sqrt(spec.dropout * (1 - spec.dropout) / len(x))
        assert abs(x.mean() - spec.dropout) < 4 * se + 1e-3, spec.name


def test_order_value_per_segment_is_recovered(syn) -> None:
    tx = syn.transactions.merge(syn.truth[["customer_id", "segment"]], on="customer_id")
    per_customer = tx.groupby(["segment", "customer_id"], observed=True).amount.mean()
    for k, spec in enumerate(SEGMENTS):
        x = per_customer.loc[k]
        se = x.std() / np.sqrt(len(x))
        assert abs(x.mean() - spec.spend_mean) < 4 * se, spec.name


def test_purchase_rate_per_segment_is_recovered() -> None:
    """With no dropout, repeat purchases / seasonal exposure estimates the planted rate."""
    segs = tuple(dataclasses.replace(s, dropout=1e-6) for s in SEGMENTS)
    syn = generate(20_000, seed=3, days=400, acquisition_days=100, segments=segs)
    grid, cum = cumulative_intensity(syn.start, 400)
    t0 = (syn.truth.first_ts - syn.start).dt.total_seconds().to_numpy() / 86400
    exposure = cum[-1] - np.interp(t0, grid, cum)
    for k, spec in enumerate(segs):
        m = (syn.truth.segment == k).to_numpy()
        n = syn.truth.n_repeat.to_numpy()[m]
        rate = n.sum() / exposure[m].sum()
        # Poisson-Gamma: var(n) = E[mu] + var(mu); a generous 4-sigma bound
        se = (
            np.sqrt(n.sum() + ((spec.purchase_rate * exposure[m]) ** 2).sum() / 4)
            / exposure[m].sum()
        )
        assert abs(rate - spec.purchase_rate) < 4 * se, spec.name


def test_segments_differ_in_category_and_channel(syn) -> None:
    tx = syn.transactions.merge(syn.truth[["customer_id", "segment"]], on="customer_id")
    top_cat = tx.groupby("segment").category.agg(lambda s: s.value_counts().index[0])
    for k, spec in enumerate(SEGMENTS):
        assert (
            top_cat[k]
            == ("electronics", "home", "fashion", "grocery", "toys", "books")[
                int(np.argmax(spec.categories))
            ]
        )
