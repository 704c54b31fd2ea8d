"""What a training job returns: its own module, so publishing and run logging take it
without importing the job that builds it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from customer_ml.tracking.pyfunc import ScorerModel
from customer_ml.train.ablation import Ablation
from customer_ml.train.backtest import Backtest
from customer_ml.train.tuning import Tuned

__all__ = ["TaskResult"]


@dataclass
class TaskResult:
    """One task's training as of `as_of`: the backtest, the chosen candidate, the fitted
    model, its tuning, and where it was logged and registered."""

    task: str
    as_of: dt.date
    backtest: Backtest
    chosen: str
    model: ScorerModel
    tuned: Tuned | None = None
    run_id: str | None = None
    version: str | None = None
    ablation: Ablation | None = None  # when the feature groups were ablated
