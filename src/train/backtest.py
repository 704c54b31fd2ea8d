"""Rolling-origin backtests: every candidate refit at each origin on data before it.

For a final `as_of` and `horizon_days`, the origins are as_of - k * horizon (k = 1..n). At an
origin o a candidate is fit on labelled snapshots at cutoffs c with c + horizon <= o (so the
labels it learns from end by o), then scores the snapshot as of o and is judged on the window
(o, o + horizon]. BTYD columns are fit on each snapshot alone. Nothing after an origin reaches
its predictions; nothing after o + horizon reaches its metrics (tests/train/test_backtest.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import clone

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.errors import DataError
from customer_ml.features.labels import feature_schema, labelled_snapshot
from customer_ml.features.timing import cutoff
from customer_ml.models.bootstrap import BOOT_METRICS, bootstrap_metrics, resample_weights
from customer_ml.models.btyd_features import btyd_features
from customer_ml.models.metrics import churn_metrics, ltv_metrics
from customer_ml.models.scorers import Scorer

__all__ = [
    "PRIMARY",
    "Backtest",
    "Frames",
    "build_frames",
    "origins",
    "run_backtest",
    "target",
    "training_cutoffs",
]

PRIMARY = {"churn": "roc_auc", "ltv": "normalized_gini"}
HEADLINE = {
    "churn": ("roc_auc", "pr_auc", "brier", "top_decile_lift"),
    "ltv": ("normalized_gini", "spearman", "top20_captured", "decile_mape", "total_error"),
}
LABELS = ("churned", "future_purchases", "future_spend")
LOWER_IS_BETTER = {"brier", "decile_mape", "abs_total_error"}
Progress = Callable[[str, int, int], None]  # (what, done, total)


def origins(as_of: str | dt.date | pd.Timestamp, *, horizon_days: int, n: int) -> list[dt.date]:
    """as_of - k * horizon for k = n..1, oldest first."""
    end = cutoff(as_of).day
    return [end - dt.timedelta(days=k * horizon_days) for k in range(n, 0, -1)]


def training_cutoffs(origin: dt.date, *, horizon_days: int, n: int) -> list[dt.date]:
    """The n cutoffs whose label windows end by `origin`: origin - k * horizon, oldest first."""
    return [origin - dt.timedelta(days=k * horizon_days) for k in range(n, 0, -1)]


@dataclass
class Frames:
    """Labelled snapshots with BTYD columns by cutoff, and the schema they share (the
    category / channel / event columns, fixed from data up to the earliest cutoff)."""

    by_cutoff: dict[dt.date, pd.DataFrame]
    schema: dict[str, Any]
    plan: Any = None  # the train.plan.Plan the frames were built for, when planned


def build_frames(
    data: Dataset,
    cutoffs: Iterable[dt.date],
    *,
    horizon_days: int,
    config: Config,
    progress: Progress | None = None,
) -> Frames:
    """Labelled snapshots with BTYD columns, one per cutoff, sharing one schema.

    Cutoffs before the first transaction, or whose snapshot has too few customers for the
    BTYD fits, are left out.
    """
    span = data.date_range()
    if span is None:
        raise DataError("backtests need transactions")
    cuts = sorted(d for d in set(cutoffs) if d >= span[0].date())
    if not cuts:
        raise DataError(f"every cutoff is before the first transaction ({span[0].date()})")
    schema = feature_schema(data, as_of=cuts[0], config=config.features)
    frames = {}
    for i, d in enumerate(cuts):
        if progress:
            progress(f"snapshot {d}", i, len(cuts))
        f = labelled_snapshot(
            data, as_of=d, horizon_days=horizon_days, config=config.features, schema=schema
        )
        try:
            b = btyd_features(f, horizon_days=horizon_days, seed=config.seed)
        except ValueError:
            continue  # too few customers this early: not usable
        frames[d] = pd.concat([f, b], axis=1)
    if progress:
        progress("snapshots", len(cuts), len(cuts))
    return Frames(frames, schema)


def target(frame: pd.DataFrame, task: str) -> np.ndarray:
    """churn: the `churned` label; ltv: future spend (future purchases without amounts)."""
    if task == "churn":
        return frame["churned"].to_numpy(float)
    col = "future_spend" if "future_spend" in frame else "future_purchases"
    return frame[col].to_numpy(float)


def _metrics(task: str, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    if task == "churn":
        return churn_metrics(y, p)
    m = ltv_metrics(y, p)
    m["abs_total_error"] = abs(m["total_error"])
    return m


@dataclass
class Backtest:
    """Per-origin and aggregated metrics of every candidate, with the predictions."""

    task: str
    horizon_days: int
    origins: list[dt.date]
    per_origin: pd.DataFrame  # candidate, origin, n_train, metric columns
    summary: pd.DataFrame  # candidate, metric, estimate, ci_low, ci_high
    predictions: dict[str, pd.DataFrame] = field(repr=False)  # candidate -> origin, y, p
    key: str = ""
    failed: dict[str, str] = field(default_factory=dict)  # candidate -> why it was dropped
    warning: str | None = None  # how the plan was reduced for a short history
    learned: dict[str, bool] = field(default_factory=dict)  # candidate -> a learned model

    @property
    def primary(self) -> str:
        return PRIMARY[self.task]

    def score(self, candidate: str, metric: str | None = None) -> float:
        s = self.summary
        row = s[(s["candidate"] == candidate) & (s["metric"] == (metric or self.primary))]
        return float(row["estimate"].iloc[0])

    def ranking(self) -> list[str]:
        """Candidates best first on the primary metric; ties keep the given (simpler first)
        order; candidates with no finite score come last."""
        s = self.summary[self.summary["metric"] == self.primary].reset_index(drop=True)
        s = s.assign(order=range(len(s)), v=s["estimate"].fillna(-np.inf))
        return list(s.sort_values(["v", "order"], ascending=[False, True])["candidate"])

    def best(self) -> str:
        return self.ranking()[0]

    def table(self) -> pd.DataFrame:
        """candidate x headline metric, "estimate [low, high]" strings, best first."""
        s = self.summary[self.summary["metric"].isin(HEADLINE[self.task])]
        s = s.assign(
            cell=[
                f"{e:.4f}" if not np.isfinite(lo) else f"{e:.4f} [{lo:.4f}, {hi:.4f}]"
                for e, lo, hi in zip(s["estimate"], s["ci_low"], s["ci_high"], strict=True)
            ]
        )
        t = s.pivot(index="candidate", columns="metric", values="cell")
        return t.loc[self.ranking(), list(HEADLINE[self.task])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "horizon_days": self.horizon_days,
            "origins": [str(d) for d in self.origins],
            "primary_metric": self.primary,
            "backtest_key": self.key,
            "ranking": self.ranking(),
            "failed": self.failed,
            "learned": self.learned,
            "warning": self.warning,
            "summary": _records(self.summary),
            "per_origin": _records(
                self.per_origin.assign(origin=self.per_origin["origin"].astype(str))
            ),
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with NaN as None (valid JSON)."""
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in df.to_dict(orient="records")
    ]


def aggregate(
    task: str,
    preds: dict[str, pd.DataFrame],
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """Mean over origins of each metric; CIs from a percentile bootstrap (customers
    resampled within each origin; a draw's value is the mean over origins)."""
    rng = np.random.default_rng(seed)
    first = next(iter(preds.values()))
    groups = [np.flatnonzero(first["origin"].to_numpy() == o) for o in first["origin"].unique()]
    per_origin: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in preds}
    for g in groups:
        blocks = list(resample_weights(len(g), n_boot, rng))
        for name, df in preds.items():
            y, p = df["y"].to_numpy(float)[g], df["p"].to_numpy(float)[g]
            per_origin[name].append(
                bootstrap_metrics(task, y, p, n_boot=n_boot, rng=rng, weights=blocks)
            )
    rows = []
    for name, df in preds.items():
        y, p = df["y"].to_numpy(float), df["p"].to_numpy(float)
        point = pd.DataFrame([_metrics(task, y[g], p[g]) for g in groups]).mean()
        for metric, est in point.items():
            lo = hi = float("nan")
            if n_boot and metric in BOOT_METRICS[task]:
                draws = np.mean([o[metric] for o in per_origin[name]], axis=0)
                draws = draws[np.isfinite(draws)]
                if len(draws):
                    lo, hi = (float(x) for x in np.quantile(draws, [0.025, 0.975]))
            rows.append(
                {"candidate": name, "metric": metric, "estimate": est, "ci_low": lo, "ci_high": hi}
            )
    return pd.DataFrame(rows)


def content_key(tag: str, *parts: tuple[pd.Series, np.ndarray | None]) -> str:
    """A short hash of `tag` and, per part, the customer ids (and their labels): what the
    promotion gate calls "the same backtest" (or the same snapshot)."""
    h = hashlib.sha256(tag.encode())
    for ids, y in parts:
        h.update(pd.util.hash_pandas_object(ids, index=False).to_numpy().tobytes())
        if y is not None:
            h.update(np.asarray(y, float).tobytes())
    return h.hexdigest()[:16]


def backtest_key(frames: dict[dt.date, pd.DataFrame], task: str, origin_list: list[dt.date]) -> str:
    """Identifies "the same backtest": task, origins and the content of the test frames."""
    tag = json.dumps([task, [str(o) for o in origin_list]])
    return content_key(
        tag, *((frames[o]["customer_id"], target(frames[o], task)) for o in origin_list)
    )


def run_backtest(
    frames: dict[dt.date, pd.DataFrame],
    *,
    task: str,
    candidates: dict[str, Scorer],
    origin_list: list[dt.date],
    horizon_days: int,
    n_train_cutoffs: int,
    n_boot: int = 200,
    seed: int = 0,
    progress: Progress | None = None,
) -> Backtest:
    """Fit every candidate at every origin on earlier labelled frames, score the origin."""
    if task not in PRIMARY:
        raise ValueError(f"task must be one of {sorted(PRIMARY)}, got {task!r}")
    preds: dict[str, list[pd.DataFrame]] = {name: [] for name in candidates}
    rows = []
    total, done = len(origin_list) * len(candidates), 0
    failed: dict[str, str] = {}
    for o in origin_list:
        if o not in frames:
            raise DataError(f"backtest origin {o}: too few customers for a snapshot")
        train_cuts = [
            c
            for c in training_cutoffs(o, horizon_days=horizon_days, n=n_train_cutoffs)
            if c in frames
        ]
        label_free = not train_cuts and all(not c.needs_labels for c in candidates.values())
        if not train_cuts and not label_free:
            raise DataError(
                f"backtest origin {o}: no labelled snapshot before it (the data must reach "
                f"{horizon_days} days before the origin); use fewer origins or a later as_of"
            )
        test = frames[o]
        y_test = target(test, task)
        # label-free candidates (BTYD columns, rates) are fit on the origin's past alone
        train = (
            test.drop(columns=list(LABELS), errors="ignore")
            if label_free
            else pd.concat([frames[c] for c in train_cuts], ignore_index=True)
        )
        y_train = None if label_free else target(train, task)
        for name, cand in candidates.items():
            if progress:
                progress(f"{task} origin {o}: {name}", done, total)
            done += 1
            if name in failed:
                continue
            try:
                p = np.asarray(clone(cand).fit(train, y_train).predict(test), float)
                if not np.isfinite(p).all():
                    raise ValueError("non-finite predictions")
            except (ValueError, ArithmeticError, lgb.basic.LightGBMError) as err:
                # one candidate that cannot fit this data does not stop the others
                failed[name] = f"origin {o}: {err}"
                continue
            preds[name].append(
                pd.DataFrame({"origin": o, "customer_id": test["customer_id"], "y": y_test, "p": p})
            )
            rows.append(
                {"candidate": name, "origin": o, "n_train": 0 if label_free else len(train)}
                | _metrics(task, y_test, p)
            )
    if progress:
        progress(f"{task}: bootstrap", total, total)
    if len(failed) == len(candidates):
        raise DataError(f"{task}: no candidate could be fit: {failed}")
    joined = {k: pd.concat(v, ignore_index=True) for k, v in preds.items() if k not in failed}
    per_origin = pd.DataFrame(rows)
    return Backtest(
        task=task,
        horizon_days=horizon_days,
        origins=list(origin_list),
        per_origin=per_origin[~per_origin["candidate"].isin(list(failed))],
        summary=aggregate(task, joined, n_boot, seed),
        predictions=joined,
        key=backtest_key(frames, task, list(origin_list)),
        failed=failed,
        learned={k: bool(c.learned) for k, c in candidates.items() if k not in failed},
    )
