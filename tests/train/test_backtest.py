"""Rolling-origin backtests: origins, what each origin may see, and the choice of the best."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from customer_ml.config import parse_config
from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import generate
from customer_ml.models.scorers import LogisticScorer
from customer_ml.train.backtest import aggregate, origins, run_backtest, training_cutoffs
from customer_ml.train.candidates import baselines
from customer_ml.train.jobs import prepare_frames
from tests.conftest import REPO

AS_OF = dt.date(2024, 12, 15)
H = 90


@pytest.fixture(scope="module")
def syn():
    return generate(1500, seed=5)


@pytest.fixture(scope="module")
def cfg():
    return parse_config(
        {
            "data": {"synthetic": {}},
            "horizon_days": H,
            "backtest": {"n_origins": 2, "n_train_cutoffs": 2, "n_boot": 30},
        },
        base_dir=REPO,
    )


def backtests(tx: pd.DataFrame, cfg, tasks=("churn", "ltv"), candidates=None) -> dict:
    """Both tasks on one set of frames."""
    frames = prepare_frames(from_frames(tx), cfg, as_of=AS_OF)
    return {
        task: run_backtest(
            frames.by_cutoff,
            task=task,
            candidates=candidates or baselines(task, has_amount=True, horizon_days=H),
            origin_list=origins(AS_OF, horizon_days=H, n=2),
            horizon_days=H,
            n_train_cutoffs=cfg.backtest.n_train_cutoffs,
            n_boot=cfg.backtest.n_boot,
        )
        for task in tasks
    }


@pytest.fixture(scope="module")
def clean(syn, cfg) -> dict:
    return backtests(syn.transactions, cfg)


def test_origins_step_back_by_the_horizon() -> None:
    assert origins("2024-09-30", horizon_days=90, n=2) == [dt.date(2024, 4, 3), dt.date(2024, 7, 2)]
    assert training_cutoffs(dt.date(2024, 7, 2), horizon_days=90, n=2) == [
        dt.date(2024, 1, 4),
        dt.date(2024, 4, 3),
    ]


class Spy(LogisticScorer):
    """Records the cutoffs it was trained on."""

    seen: ClassVar[list[Any]] = []

    def fit(self, X: pd.DataFrame, y: Any) -> Spy:
        Spy.seen.append(sorted(pd.to_datetime(X["as_of"]).dt.date.unique()))
        return super().fit(X, y)


def test_each_origin_trains_only_on_labels_that_end_by_it(syn, cfg) -> None:
    Spy.seen.clear()
    bt = backtests(syn.transactions, cfg, ("churn",), {"spy": Spy(("recency_days",))})["churn"]
    assert len(Spy.seen) == 2
    for origin, seen in zip(bt.origins, Spy.seen, strict=True):
        assert seen, "trained on nothing"
        assert max(seen) + dt.timedelta(days=H) <= origin
    assert (bt.per_origin["n_train"] > 0).all()


def poison(tx: pd.DataFrame, after: dt.date, seed: int = 0) -> pd.DataFrame:
    """Rows after `after`: huge purchases of existing customers and brand-new customers."""
    rng = np.random.default_rng(seed)
    rows = tx.sample(300, random_state=seed).copy()
    rows["ts"] = pd.Timestamp(after) + pd.to_timedelta(rng.uniform(1, 80, len(rows)), unit="D")
    rows["amount"] = rows["amount"] * 1000
    rows["customer_id"] = rows["customer_id"].astype(str)
    rows.iloc[:50, rows.columns.get_loc("customer_id")] = [f"poison{i}" for i in range(50)]
    tx = tx.assign(customer_id=tx["customer_id"].astype(str))
    return pd.concat([tx, rows], ignore_index=True)


@pytest.fixture(scope="module")
def poisoned(syn, cfg, clean) -> tuple[dict, dict]:
    first = clean["churn"].origins[0]
    # after the first origin's label window, and inside it
    late = backtests(poison(syn.transactions, first + dt.timedelta(days=H)), cfg)
    early = backtests(poison(syn.transactions, first), cfg)
    return late, early


@pytest.mark.parametrize("task", ["churn", "ltv"])
def test_rows_after_an_origin_never_reach_its_predictions_or_later_its_metrics(
    clean, poisoned, task
) -> None:
    late, early = (p[task] for p in poisoned)
    clean = clean[task]
    first = clean.origins[0]
    for name in clean.predictions:
        c = clean.predictions[name]
        for other in (late, early):
            o = other.predictions[name]
            pd.testing.assert_series_equal(
                c[c.origin == first]["p"].reset_index(drop=True),
                o[o.origin == first]["p"].reset_index(drop=True),
                check_exact=True,
            )
    a = clean.per_origin[clean.per_origin.origin == first].reset_index(drop=True)
    b = late.per_origin[late.per_origin.origin == first].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    # ...while the poison does change the later origin (the test can fail)
    c2 = clean.per_origin[clean.per_origin.origin == clean.origins[1]].reset_index(drop=True)
    l2 = late.per_origin[late.per_origin.origin == clean.origins[1]].reset_index(drop=True)
    assert not c2.equals(l2)


def test_summary_ranking_and_cis(clean) -> None:
    bt = clean["churn"]
    assert set(bt.summary.candidate) == {
        "recency_only",
        "frequency_only",
        "logistic_rfm",
        "bgnbd",
        "pnbd",
    }
    auc = {c: bt.score(c) for c in bt.summary.candidate.unique()}
    assert bt.best() == max(auc, key=auc.get)
    assert bt.ranking() == sorted(auc, key=lambda c: -auc[c])
    s = bt.summary[bt.summary.metric == "roc_auc"]
    assert (s.ci_low <= s.estimate).all() and (s.estimate <= s.ci_high).all()
    # the aggregate is the mean over origins
    per = bt.per_origin.groupby("candidate")["roc_auc"].mean()
    for c, v in per.items():
        assert bt.score(c) == pytest.approx(v)
    assert bt.to_dict()["ranking"] == bt.ranking()
    # learned baselines beat chance on data with planted churn
    assert auc["logistic_rfm"] > 0.65


class Broken(LogisticScorer):
    def fit(self, X: pd.DataFrame, y: Any) -> Broken:
        raise ValueError("cannot fit this")


def test_a_failing_candidate_is_dropped_and_reported_not_fatal(syn, cfg) -> None:
    cands = {"broken": Broken(), "recency_only": LogisticScorer(("recency_days",))}
    bt = backtests(syn.transactions, cfg, ("churn",), cands)["churn"]
    assert "broken" in bt.failed and "cannot fit this" in bt.failed["broken"]
    assert bt.ranking() == ["recency_only"]
    assert bt.to_dict()["failed"] == bt.failed


def test_no_bootstrap_gives_estimates_without_intervals(clean) -> None:
    s = aggregate("churn", clean["churn"].predictions, 0, 0)
    assert s["estimate"].notna().all() and s["ci_low"].isna().all()
