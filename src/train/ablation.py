"""Which mapped data the learned models use: a forward ablation of the feature groups.

The base is recency, frequency, tenure and money (`models.lgbm`'s "rfm" group, with the BTYD
columns when the template model takes them). The other groups (behaviour, products,
attributes: `FEATURE_GROUPS`), those the snapshot has columns for, are added one at a time,
in that order, each to the groups kept so far. A group is kept when the backtest's primary
metric rises by more than `MIN_GAIN`, and is dropped from every learned candidate otherwise.
Each step is the same rolling-origin backtest as the candidates' (same origins, same training
cutoffs) of an untuned LightGBM with default parameters: the choice costs a few boosters per
origin rather than a tuning study, and sees nothing after each origin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.base import clone

from customer_ml.models.lgbm import FEATURE_GROUPS, feature_columns, feature_group
from customer_ml.models.scorers import Scorer
from customer_ml.train.backtest import PRIMARY, Progress, run_backtest
from customer_ml.train.plan import Plan
from customer_ml.train.tuning import TunedLGBM

__all__ = ["MIN_GAIN", "Ablation", "ablate", "apply_drop"]

MIN_GAIN = 0.0005  # a group must raise ROC-AUC / normalized Gini by more than this to stay


@dataclass
class Ablation:
    """One row per step (variant, groups, primary metric, gain over the groups kept before
    it, kept), and the groups dropped from the learned candidates."""

    task: str
    metric: str
    steps: pd.DataFrame
    dropped: tuple[str, ...] = ()
    present: dict[str, int] = field(default_factory=dict)  # group -> feature columns

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "min_gain": MIN_GAIN,
            "dropped": list(self.dropped),
            "columns_per_group": self.present,
            "steps": self.steps.to_dict(orient="records"),
        }


def present_groups(frame: pd.DataFrame) -> dict[str, int]:
    """Feature columns per group in a snapshot frame (groups with none left out)."""
    counts: dict[str, int] = {}
    for c in feature_columns(frame, btyd=True):
        g = feature_group(c)
        counts[g] = counts.get(g, 0) + 1
    return {g: counts[g] for g in ("rfm", *FEATURE_GROUPS) if g in counts}


def ablate(
    frames: dict[dt.date, pd.DataFrame],
    plan: Plan,
    *,
    task: str,
    template: TunedLGBM,
    n_train_cutoffs: int,
    progress: Progress | None = None,
) -> Ablation | None:
    """The forward ablation (see the module docstring); None when the snapshot has no group
    beyond the base, or the plan has no labelled origin."""
    if not plan.labelled:
        return None
    present = present_groups(frames[plan.origins[-1]])
    extra = [g for g in FEATURE_GROUPS if g in present]
    if not extra or "rfm" not in present:
        return None
    kept: list[str] = []
    rows: list[dict[str, Any]] = []
    base_model = clone(template).set_params(n_trials=0)

    def score(groups: list[str]) -> float:
        drop = tuple(g for g in FEATURE_GROUPS if g not in groups)
        cand: dict[str, Scorer] = {"lgbm": clone(base_model).set_params(drop=drop)}
        bt = run_backtest(
            frames,
            task=task,
            candidates=cand,
            origin_list=plan.origins,
            horizon_days=plan.horizon_days,
            n_train_cutoffs=n_train_cutoffs,
            n_boot=0,
            progress=progress,
        )
        return bt.score("lgbm")

    best = score([])
    rows.append({"step": "rfm", "groups": "rfm", "score": best, "gain": float("nan"), "kept": True})
    for g in extra:
        value = score([*kept, g])
        gain = value - best
        keep = bool(gain > MIN_GAIN)
        rows.append(
            {
                "step": f"+ {g}",
                "groups": "+".join(["rfm", *kept, g]),
                "score": value,
                "gain": gain,
                "kept": keep,
            }
        )
        if keep:
            kept.append(g)
            best = value
    metric = PRIMARY[task]
    dropped = tuple(g for g in extra if g not in kept)
    return Ablation(task, metric, pd.DataFrame(rows), dropped, present)


def apply_drop(candidates: dict[str, Scorer], dropped: tuple[str, ...]) -> dict[str, Scorer]:
    """The candidates with the dropped groups removed from every tuned LightGBM."""
    if not dropped:
        return candidates
    return {
        k: clone(v).set_params(drop=dropped) if isinstance(v, TunedLGBM) else v
        for k, v in candidates.items()
    }
