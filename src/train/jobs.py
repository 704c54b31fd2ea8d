"""Training jobs: backtest the candidates of a task, fit the best, log and register it.

`train_task` is what `customer-ml train` and `evaluate` run; notebooks call it directly.
Everything uses rows with ts <= as_of only: the final model learns from labelled snapshots
whose label windows end by as_of, and each backtest origin from those ending by the origin.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset, DateSpan
from customer_ml.errors import DataError
from customer_ml.features.timing import cutoff
from customer_ml.files import atomic_file
from customer_ml.models.scorers import Scorer
from customer_ml.tracking.backend import data_fingerprint, model_name, open_store
from customer_ml.tracking.pyfunc import ScorerModel
from customer_ml.train.ablation import ablate, apply_drop
from customer_ml.train.backtest import (
    Backtest,
    Frames,
    Progress,
    build_frames,
    run_backtest,
    target,
)
from customer_ml.train.candidates import baselines, learned
from customer_ml.train.plan import Plan, first_purchase_days, plan_backtest
from customer_ml.train.publish import add_champion, publish
from customer_ml.train.results import TaskResult
from customer_ml.train.tuning import TunedLGBM

__all__ = [
    "TASKS",
    "Evaluation",
    "TaskResult",
    "evaluate_baselines",
    "prepare_frames",
    "resolve_as_of",
    "train_task",
    "write_report",
]

TASKS = ("churn", "ltv")
log = logging.getLogger(__name__)


def resolve_as_of(data: DateSpan, config: Config, as_of: str | dt.date | None) -> dt.date:
    """The given date, else the config's, else the day of the last transaction.

    Raises
    ------
    DataError
        when the date (given or the config's `as_of`) lies before the first transaction or
        after the last one: nothing to score, or scores of a future the data has not seen.
    """
    span = data.date_range()
    if as_of is not None:
        if pd.Timestamp(as_of) != pd.Timestamp(as_of).normalize():
            raise DataError(f"as_of {as_of}: training takes a date (the end of that day)")
        day, where = cutoff(as_of).day, "--as-of"
    elif config.as_of is not None:
        day, where = config.as_of, f"{config.source or 'config'}: as_of"
    elif span is None:
        raise DataError("no transactions: as_of cannot default to the last transaction date")
    else:
        return span[1].date()
    if span is not None:
        first, last = span[0].date(), span[1].date()
        if not first <= day <= last:
            side = "before the first" if day < first else "after the last"
            span_text = f"{first} to {last}{_file(config)}"
            raise DataError(f"{where} {day} is {side} transaction of the data ({span_text})")
    return day


def _file(config: Config) -> str:
    tx = config.data.transactions
    return f" in {tx.path}" if tx is not None else ""


def prepare_frames(
    data: Dataset, config: Config, *, as_of: dt.date, progress: Progress | None = None
) -> Frames:
    """Every labelled snapshot the backtest and the final fit need, built once, and the plan
    they support (`train.plan`: reduced for a short history, with one logged warning)."""
    firsts = first_purchase_days(data, as_of=as_of)
    planned = settle_plan(firsts, config, as_of=as_of)
    frames = build_frames(
        data, planned.cutoffs(), horizon_days=config.horizon_days, config=config, progress=progress
    )
    frames.plan = settle_plan(firsts, config, as_of=as_of, frames=frames)
    if frames.plan.warning:
        log.warning("%s", frames.plan.warning)
    return frames


def settle_plan(
    firsts: np.ndarray, config: Config, *, as_of: dt.date, frames: Frames | None = None
) -> Plan:
    """The config's backtest plan as the history supports it (on the snapshots in `frames`
    when given, else on the customer counts by cutoff)."""
    b = config.backtest
    return plan_backtest(
        firsts,
        as_of=as_of,
        horizon_days=config.horizon_days,
        n_origins=b.n_origins,
        n_train_cutoffs=b.n_train_cutoffs,
        usable=None if frames is None else frames.by_cutoff.__contains__,
    )


def _final_fit(
    frames: Frames, scorer: Scorer, *, task: str, as_of: dt.date, plan: Plan
) -> tuple[Scorer, pd.DataFrame]:
    cuts = [c for c in plan.final_cutoffs if c in frames.by_cutoff]
    if not cuts:
        raise DataError(f"no labelled snapshot ends by {as_of}: the data is too short")
    train = pd.concat([frames.by_cutoff[c] for c in cuts], ignore_index=True)
    return clone(scorer).fit(train, target(train, task)), train


def train_task(
    data: Dataset,
    config: Config,
    *,
    task: str,
    as_of: str | dt.date | None = None,
    candidates: dict[str, Scorer] | None = None,
    frames: Frames | None = None,
    register: bool = True,
    log: bool = True,
    progress: Progress | None = None,
    choose: str | None = None,
) -> TaskResult:
    """Backtest `candidates` (default: the baselines and the LightGBM models, which tune
    themselves with Optuna on each origin's training data) on rolling origins before `as_of`,
    fit
    the best on the labelled snapshots ending by `as_of`, log the run to MLflow and register
    it as the `challenger` of <project>-<task>.

    The current champion, if any, is re-scored on the same backtest so that the promotion
    gate compares like with like (its score is stored on the new version), and so is the
    best baseline: a model below it is not promoted. `choose` registers that candidate
    instead of the backtest's best (the gate still compares it).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if not data.has_transactions:
        if task == "churn" and "churned" in data.customer_columns:
            from customer_ml.train.contractual import train_contractual

            return train_contractual(
                data, config, candidates=candidates, register=register, log=log, progress=progress
            )
        raise DataError(f"{task} needs transactions (or, for churn, a contractual churn label)")
    day = resolve_as_of(data, config, as_of)
    frames = frames or prepare_frames(data, config, as_of=day, progress=progress)
    plan: Plan = frames.plan or settle_plan(
        first_purchase_days(data, as_of=day), config, as_of=day, frames=frames
    )
    ablation = None
    if candidates is None:
        candidates = baselines(task, has_amount=data.has_amount, horizon_days=config.horizon_days)
        models = learned(task, tuning=config.tuning, seed=config.seed)
        if config.backtest.ablation:
            ablation = ablate(
                frames.by_cutoff,
                plan,
                task=task,
                template=next(iter(models.values())),
                n_train_cutoffs=config.backtest.n_train_cutoffs,
                progress=progress,
            )
        if ablation is not None and ablation.dropped:
            logging.getLogger(__name__).info(
                "%s: feature groups dropped by the ablation: %s", task, ablation.dropped
            )
            models = apply_drop(models, ablation.dropped)
        candidates |= models
    cands = dict(candidates)
    if choose is not None and choose not in cands:
        raise ValueError(f"choose={choose!r}: not a candidate ({sorted(cands)})")
    client = open_store(config.paths.mlruns) if log else None
    champion = (
        add_champion(client, model_name(config.project_name, task), cands) if register else None
    )
    if not plan.labelled:  # a short history: only what learns nothing from labels
        cands = {k: v for k, v in cands.items() if not v.needs_labels}
        if champion is not None and champion[1] not in cands:
            champion = None
    bt = run_backtest(
        frames.by_cutoff,
        task=task,
        candidates=cands,
        origin_list=plan.origins,
        horizon_days=config.horizon_days,
        n_train_cutoffs=config.backtest.n_train_cutoffs,
        n_boot=config.backtest.n_boot,
        seed=config.seed,
        progress=progress,
    )
    bt.warning = plan.warning
    chosen = choose or next(c for c in bt.ranking() if c != "champion")
    if chosen not in bt.predictions:
        raise ValueError(f"choose={chosen!r}: failed in the backtest: {bt.failed.get(chosen)}")
    scorer, train = _final_fit(frames, cands[chosen], task=task, as_of=day, plan=plan)
    tuned = scorer.tuned_ if isinstance(scorer, TunedLGBM) else None
    served = scorer.fitted_ if isinstance(scorer, TunedLGBM) else scorer
    model = ScorerModel(served, task=task, horizon_days=config.horizon_days, schema=frames.schema)
    result = TaskResult(task, day, bt, chosen, model, tuned=tuned, ablation=ablation)
    if client is not None:
        publish(
            result,
            data=data,
            config=config,
            train=train,
            client=client,
            spec=scorer.spec(),
            champion=champion,
            register=register,
        )
    return result


def _write_json(obj: dict[str, Any], path: Path) -> Path:
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str))
    return path


def write_report(result: TaskResult, path: Path) -> Path:
    """The training run's backtest (every candidate, CIs, per origin) and choice, as JSON."""
    report = result.backtest.to_dict() | {
        "as_of": result.as_of.isoformat(),
        "chosen": result.chosen,
        "run_id": result.run_id,
        "version": result.version,
        "tuned_params": result.tuned.params if result.tuned else None,
    }
    return _write_json(report, path)


@dataclass
class Evaluation:
    as_of: dt.date
    backtests: dict[str, Backtest]
    report: dict[str, Any]  # what is written as JSON


def evaluate_baselines(
    data: Dataset,
    config: Config,
    *,
    as_of: str | dt.date | None = None,
    out: Path | None = None,
    log: bool = True,
    progress: Progress | None = None,
) -> Evaluation:
    """The baseline report: every baseline of every task backtested, with CIs; logged to
    MLflow (not registered) and written to `out` as JSON when given."""
    day = resolve_as_of(data, config, as_of)
    frames = prepare_frames(data, config, as_of=day, progress=progress)
    report: dict[str, Any] = {
        "as_of": day.isoformat(),
        "horizon_days": config.horizon_days,
        "data": {
            k: {"rows": v["rows"], "customers": v["customers"]}
            for k, v in data_fingerprint(data).items()
        },
        "tasks": {},
    }
    backtests: dict[str, Backtest] = {}
    for task in TASKS:
        res = train_task(
            data,
            config,
            task=task,
            as_of=day,
            frames=frames,
            candidates=baselines(
                task, has_amount=data.has_amount, horizon_days=config.horizon_days
            ),
            register=False,
            log=log,
            progress=progress,
        )
        report["tasks"][task] = res.backtest.to_dict() | {"run_id": res.run_id}
        backtests[task] = res.backtest
    if out is not None:
        _write_json(report, out)
    return Evaluation(day, backtests, report)
