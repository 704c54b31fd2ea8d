"""The backtest plan: which origins and training cutoffs a history can support.

The configured plan is `n_origins` origins as_of - k * horizon, each training on the
`n_train_cutoffs` cutoffs o - k * horizon before it (labels end by the origin), and a final fit
on the cutoffs as_of - k * horizon. A short history cannot fill it, so the plan degrades, in
this order: origins without a usable labelled cutoff before them are dropped (fewer origins,
down to a single one); with no labelled cutoff before any origin, only the candidates that
learn nothing from labels (the BTYD models and the historical rate, fit on the origin's own
snapshot) are backtested. Each step is announced in one warning line. Below the minimum
(horizon_days + 30 days of history, or fewer than `MIN_CUSTOMERS` customers by as_of) the
plan is an error naming the reason.

A cutoff is usable when at least `MIN_SNAPSHOT_CUSTOMERS` customers have bought by it (what
the BTYD fits need) and it is not before the first transaction. Only rows with ts <= as_of
are read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from customer_ml.data.dataset import Dataset
from customer_ml.errors import DataError
from customer_ml.features.timing import cutoff
from customer_ml.models.btyd_features import MIN_CUSTOMERS as MIN_SNAPSHOT_CUSTOMERS

__all__ = [
    "MIN_CUSTOMERS",
    "MIN_HISTORY_EXTRA_DAYS",
    "MIN_SNAPSHOT_CUSTOMERS",
    "Plan",
    "first_purchase_days",
    "plan_backtest",
]

MIN_CUSTOMERS = 200  # customers seen by as_of
MIN_HISTORY_EXTRA_DAYS = 30  # history needed beyond one horizon (the latest origin's past)


@dataclass(frozen=True)
class Plan:
    """Origins (oldest first), each origin's training cutoffs (empty: label-free candidates
    only), the cutoffs of the final fit, and the warning that says how the plan degraded."""

    as_of: dt.date
    horizon_days: int
    origins: list[dt.date]
    train_cutoffs: dict[dt.date, list[dt.date]]
    final_cutoffs: list[dt.date]
    warning: str | None = None
    asked: tuple[int, int] = (0, 0)  # configured (n_origins, n_train_cutoffs)
    notes: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        """Whether candidates that learn from labels can be backtested."""
        return any(self.train_cutoffs.values())

    def cutoffs(self) -> set[dt.date]:
        """Every cutoff a snapshot is needed for."""
        out = set(self.origins) | set(self.final_cutoffs)
        for cuts in self.train_cutoffs.values():
            out |= set(cuts)
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "origins": [str(o) for o in self.origins],
            "train_cutoffs": {str(o): [str(c) for c in v] for o, v in self.train_cutoffs.items()},
            "final_cutoffs": [str(c) for c in self.final_cutoffs],
            "labelled": self.labelled,
            "warning": self.warning,
        }


def first_purchase_days(data: Dataset, *, as_of: dt.date) -> np.ndarray:
    """Each customer's first transaction day up to as_of (sorted, numpy datetime64[D])."""
    end = cutoff(as_of).sql_end()
    rows = data.con.execute(
        f"SELECT CAST(min(ts) AS DATE) AS d FROM transactions WHERE ts <= {end} "
        "GROUP BY customer_id ORDER BY d"
    ).fetchnumpy()["d"]
    return np.asarray(rows, dtype="datetime64[D]")


def _grid(end: dt.date, h: int, n: int) -> list[dt.date]:
    return [end - dt.timedelta(days=k * h) for k in range(n, 0, -1)]


def _check_minimum(firsts: np.ndarray, as_of: dt.date, h: int) -> None:
    if len(firsts) == 0:
        raise DataError(f"no transactions up to as_of {as_of}")
    start = firsts[0].astype(dt.date)
    days = (as_of - start).days + 1
    need = h + MIN_HISTORY_EXTRA_DAYS
    if days < need:
        raise DataError(
            f"the history up to as_of {as_of} covers {days} days (from {start}); "
            f"horizon_days {h} needs at least {need} (horizon_days + {MIN_HISTORY_EXTRA_DAYS}): "
            "use a shorter horizon_days, a later as_of or more history"
        )
    if len(firsts) < MIN_CUSTOMERS:
        raise DataError(
            f"{len(firsts)} customers have bought by as_of {as_of}; the models need at least "
            f"{MIN_CUSTOMERS}"
        )


def plan_backtest(
    firsts: np.ndarray,
    *,
    as_of: dt.date,
    horizon_days: int,
    n_origins: int,
    n_train_cutoffs: int,
    usable: Callable[[dt.date], bool] | None = None,
) -> Plan:
    """The richest plan the history supports (see the module docstring).

    Parameters
    ----------
    firsts
        Each customer's first purchase day up to as_of, sorted (`first_purchase_days`).
    usable
        Whether a snapshot at a cutoff can be used; default: at least
        `MIN_SNAPSHOT_CUSTOMERS` customers have bought by it. After the snapshots are built,
        pass ``lambda d: d in frames`` to settle the plan on the ones that exist.
    """
    h = horizon_days
    _check_minimum(firsts, as_of, h)
    if usable is None:

        def usable(d: dt.date) -> bool:
            seen = np.searchsorted(firsts, np.datetime64(d, "D"), side="right")
            return bool(seen >= MIN_SNAPSHOT_CUSTOMERS)

    grid = [o for o in _grid(as_of, h, n_origins) if usable(o)]
    if not grid:
        latest = as_of - dt.timedelta(days=h)
        raise DataError(
            f"backtest origin {latest}: fewer than {MIN_SNAPSHOT_CUSTOMERS} customers had bought "
            f"by then; the models need a longer history before as_of {as_of} - horizon_days {h}"
        )
    train = {o: [c for c in _grid(o, h, n_train_cutoffs) if usable(c)] for o in grid}
    final = [c for c in _grid(as_of, h, n_train_cutoffs) if usable(c)]
    labelled = [o for o in grid if train[o]]
    notes: list[str] = []
    if labelled:
        origins = labelled
        if len(origins) < n_origins:
            notes.append(
                f"{len(origins)} origin{'s' * (len(origins) > 1)} of {n_origins} "
                f"({', '.join(map(str, origins))}): earlier origins have no labelled "
                f"{h}-day window before them"
            )
        single = [o for o in origins if len(train[o]) == 1]
        if single and n_train_cutoffs > 1:
            notes.append(
                f"origin {single[0]} trains on 1 cutoff of {n_train_cutoffs} (LightGBM "
                "untuned and uncalibrated)"
            )
    else:
        origins = grid[-1:]
        train = {origins[0]: []}
        notes.append(
            f"BTYD challengers alone, on origin {origins[0]}: the history before it is shorter "
            f"than one {h}-day label window, so no model that learns from labels can be "
            "backtested"
        )
    warning = "backtest reduced: " + "; ".join(notes) if notes else None
    return Plan(
        as_of=as_of,
        horizon_days=h,
        origins=origins,
        train_cutoffs={o: train[o] for o in origins},
        final_cutoffs=final,
        warning=warning,
        asked=(n_origins, n_train_cutoffs),
        notes=notes,
    )
