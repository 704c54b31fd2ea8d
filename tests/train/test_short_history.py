"""Short histories: the backtest plan degrades (fewer origins, fewer cutoffs, the BTYD
challengers alone) with one warning line, and `run` still scores every customer; below the
minimum the error names the reason."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.data.synthetic import generate
from customer_ml.errors import DataError
from customer_ml.models.scorers import ColumnScorer
from customer_ml.train.backtest import run_backtest
from customer_ml.train.plan import MIN_CUSTOMERS, plan_backtest
from tests.test_run import check_contract

runner = CliRunner()
AS_OF = dt.date(2023, 12, 31)


def firsts(start: str, days: int, n: int = 1000) -> np.ndarray:
    """n customers whose first purchases are spread evenly over `days` from `start`."""
    offsets = np.linspace(0, days - 1, n).astype(int)
    return np.datetime64(start, "D") + np.sort(offsets)


def plan(f: np.ndarray, h: int, n_origins: int = 2, n_train: int = 3, as_of=AS_OF):
    return plan_backtest(
        f, as_of=as_of, horizon_days=h, n_origins=n_origins, n_train_cutoffs=n_train
    )


def test_a_long_history_keeps_the_configured_plan_and_warns_nothing() -> None:
    p = plan(firsts("2021-01-01", 1095), 90)
    assert p.origins == [dt.date(2023, 7, 4), dt.date(2023, 10, 2)]
    assert all(len(v) == 3 for v in p.train_cutoffs.values())
    assert p.labelled and p.warning is None


@pytest.mark.parametrize(
    ("days", "h", "origins", "cuts", "says"),
    [
        # 15 months, 182 days: one origin trains on one cutoff
        (456, 182, [dt.date(2023, 7, 2)], [dt.date(2023, 1, 1)], "1 origin of 2"),
        # 12 months, 182 days: no labelled window before any origin
        (365, 182, [dt.date(2023, 7, 2)], [], "BTYD challengers alone"),
        # 4 months, 90 days
        (122, 90, [dt.date(2023, 10, 2)], [], "BTYD challengers alone"),
    ],
)
def test_a_short_history_reduces_the_plan_with_one_warning(days, h, origins, cuts, says) -> None:
    start = str(AS_OF - dt.timedelta(days=days - 1))
    p = plan(firsts(start, days), h)
    assert p.origins == origins
    assert p.train_cutoffs[origins[-1]] == cuts
    assert p.labelled == bool(cuts)
    assert says in p.warning and "\n" not in p.warning
    # every training cutoff's labels end by its origin; the final fit's by as_of
    for o, train in p.train_cutoffs.items():
        assert all(c + dt.timedelta(days=h) <= o for c in train)
        assert o + dt.timedelta(days=h) <= AS_OF
    assert all(c + dt.timedelta(days=h) <= AS_OF for c in p.final_cutoffs)


@pytest.mark.parametrize(
    ("f", "h", "says"),
    [
        (firsts("2023-09-04", 119), 90, "needs at least 120 (horizon_days + 30)"),
        (firsts("2023-01-01", 365, n=MIN_CUSTOMERS - 1), 90, f"at least {MIN_CUSTOMERS}"),
        # the first buyers arrive a day before the only possible origin
        (
            firsts("2023-01-01", 1, n=10).tolist() + firsts("2023-10-05", 30, n=300).tolist(),
            90,
            "fewer than 20 customers had bought",
        ),
    ],
)
def test_below_the_minimum_the_error_names_the_reason(f, h, says) -> None:
    with pytest.raises(DataError, match=re.escape(says)):
        plan(np.sort(np.asarray(f, dtype="datetime64[D]")), h)


class _Spy(ColumnScorer):
    """A label-free scorer that records what its fit was given."""

    seen: ClassVar[list[tuple[list[str], Any]]] = []

    def fit(self, X: pd.DataFrame, y: Any = None) -> _Spy:
        _Spy.seen.append((list(X.columns), y))
        return super().fit(X, y)


def test_label_free_candidates_fit_on_the_origins_past_alone() -> None:
    o = dt.date(2023, 10, 2)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(300),
            "bgnbd_p_any": rng.random(300),
            "churned": rng.random(300) < 0.5,
            "future_purchases": rng.poisson(1, 300),
        }
    )
    bt = run_backtest(
        {o: frame},
        task="churn",
        candidates={"bgnbd": _Spy("bgnbd_p_any", complement=True)},
        origin_list=[o],
        horizon_days=90,
        n_train_cutoffs=3,
        n_boot=0,
    )
    cols, y = _Spy.seen[-1]
    assert y is None and not {"churned", "future_purchases"} & set(cols)
    assert bt.per_origin["n_train"].tolist() == [0]


def write_project(root: Path, *, days: int, horizon: int, amount: bool) -> int:
    """A CSV of `days` of synthetic history and its config; returns the customer count."""
    tx = generate(700, seed=11, days=days, acquisition_days=days // 2, with_events=False)
    cols = ["customer_id", "ts", "amount"] if amount else ["customer_id", "ts"]
    tx.transactions[cols].to_csv(root / "tx.csv", index=False)
    mapping = ", ".join(f"{c}: {c}" for c in cols)
    (root / "c.yaml").write_text(
        f"data: {{transactions: {{path: tx.csv, columns: {{{mapping}}}}}}}\n"
        f"horizon_days: {horizon}\n"
        "backtest: {n_boot: 20}\n"
        "tuning: {n_trials: 2, timeout_s: 5, max_rounds: 60}\n"
        "paths: {out: out, mlruns: mlruns}\n"
    )
    return int(tx.transactions["customer_id"].nunique())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("days", "horizon", "amount", "says"),
    [
        (365, 182, True, "BTYD challengers alone"),
        (122, 90, True, "BTYD challengers alone"),
        (240, 90, False, "1 origin of 2"),  # frequency only: no amount column
    ],
    ids=["12-months-182-days", "4-months-90-days", "frequency-only"],
)
def test_run_scores_a_short_history(tmp_path: Path, days, horizon, amount, says) -> None:
    n = write_project(tmp_path, days=days, horizon=horizon, amount=amount)
    res = runner.invoke(app, ["run", "-c", str(tmp_path / "c.yaml")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and says in warnings[0], res.output
    check_contract(tmp_path / "out", n)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    bt = metrics["models"]["churn"]["backtest"]
    assert says in bt["warning"]
    if says.startswith("BTYD"):
        assert set(bt["ranking"]) <= {"bgnbd", "pnbd", "bgnbd_gg", "pnbd_gg", "historical_rate"}
    s = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert s["churn_probability"].between(0, 1).all() and s["churn_probability"].std() > 0
    assert s["predicted_ltv"].isna().all() != amount


def test_run_below_the_minimum_exits_2_naming_the_reason(tmp_path: Path) -> None:
    write_project(tmp_path, days=100, horizon=90, amount=True)
    res = runner.invoke(app, ["run", "-c", str(tmp_path / "c.yaml")], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "horizon_days 90 needs at least 120" in res.output
    assert not (tmp_path / "out").exists()
