"""`customer-ml cycle`: one scheduled step (cron, Airflow) of monitor, retrain, promote, score.

As of a date D, with rows with ts <= D only:

1. monitor the last run's outputs (the run folder, paths.out) against the snapshot as of D;
2. log the monitoring figures to MLflow (<project>-monitoring, step = D);
3. when the decision is `retrain`, train challengers, each task's backtest re-scoring the
   current champion on the same origins (the latest is D - horizon), and move the
   `champion` alias only through the promotion gate (`customer_ml.tracking.registry`);
4. score every customer with the champions into the run folder (replaced atomically).

The first cycle, with no earlier run in the folder, is a plain `run`. Each cycle keeps its
report and a copy of what it scored in <out>-cycles/<D>/ (monitor.json, monitor.html,
run/): when cycles come more often than the horizon, the realised figures of a later cycle
come from the newest kept run at least one horizon old, and older copies are removed.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.data.load import load_data
from customer_ml.errors import DataError
from customer_ml.files import atomic_dir
from customer_ml.jobs.batch import JobResult, run_job, score_job, train_models
from customer_ml.monitoring.monitor import REFERENCE_FILES, Monitoring, monitor, write_monitoring
from customer_ml.scoring.feature_store import stored_as_of
from customer_ml.tracking.backend import model_name, open_store
from customer_ml.tracking.history import log_cycle, monitoring_history
from customer_ml.tracking.registry import version_by_alias

__all__ = ["TASKS", "Cycle", "cycle_job", "cycles_folder"]

TASKS = ("churn", "ltv", "segments")
RUN = "run"  # the copy of a cycle's scored outputs inside <out>-cycles/<as_of>/


@dataclass
class Cycle:
    """What one cycle did: its monitoring (None on the first cycle), the scoring job, whether
    it retrained, and the champion version of each task before and after."""

    as_of: dt.date
    monitoring: Monitoring | None
    result: JobResult
    retrained: bool
    champions_before: dict[str, str | None] = field(default_factory=dict)
    champions_after: dict[str, str | None] = field(default_factory=dict)
    run_id: str | None = None  # the MLflow run of the monitoring figures

    @property
    def promoted(self) -> list[str]:
        """Tasks whose champion alias moved in this cycle."""
        return [t for t in TASKS if self.champions_after.get(t) != self.champions_before.get(t)]


def cycles_folder(out: Path) -> Path:
    """<out>-cycles beside the run folder (the run folder itself is replaced whole)."""
    return out.parent / f"{out.name}-cycles"


def _is_run(folder: Path) -> bool:
    return all((folder / f).is_file() for f in REFERENCE_FILES)


def _champions(config: Config) -> dict[str, str | None]:
    client = open_store(config.paths.mlruns)
    found = {t: version_by_alias(client, model_name(config.project_name, t), "champion")
             for t in TASKS}  # fmt: skip
    return {t: None if mv is None else str(mv.version) for t, mv in found.items()}


def _kept_runs(root: Path) -> dict[dt.date, Path]:
    """The kept copies of earlier cycles' outputs, by as_of."""
    runs = {}
    for sub in root.glob(f"*/{RUN}") if root.is_dir() else []:
        try:
            day = dt.date.fromisoformat(sub.parent.name)
        except ValueError:
            continue
        if _is_run(sub):
            runs[day] = sub
    return runs


def _judged(root: Path, *, as_of: dt.date, horizon_days: int) -> Path | None:
    """The newest kept run whose horizon has passed by `as_of`; copies older than it are
    removed (no later cycle needs them)."""
    runs = _kept_runs(root)
    past = [d for d in runs if (as_of - d).days >= horizon_days]
    if not past:
        return None
    newest = max(past)
    for day in past:
        if day < newest:
            shutil.rmtree(runs[day])
    return runs[newest]


def _keep_run(folder: Path, root: Path, day: dt.date) -> None:
    with atomic_dir(root / day.isoformat() / RUN) as tmp:
        for name in REFERENCE_FILES:
            shutil.copy2(folder / name, tmp / name)


def cycle_job(
    config: Config,
    *,
    as_of: str | dt.date,
    out: str | Path | None = None,
    data: Dataset | None = None,
) -> Cycle:
    """Monitor the last run in `out` (default: paths.out), retrain when the decision says so
    (the champion moves only through the promotion gate), score as of `as_of`.

    Uses rows with ts <= as_of only (the realised figures: the labels of an earlier run's
    window, which ends by as_of). Raises DataError when `as_of` is before the last run's.
    """
    try:
        day = pd.Timestamp(as_of).date()
    except ValueError:
        raise DataError(f"--as-of {as_of!r}: not a date (YYYY-MM-DD)") from None
    folder = Path(out) if out is not None else config.paths.out
    last = stored_as_of(folder) if _is_run(folder) else None
    if last is not None and day < last:
        raise DataError(
            f"--as-of {day} is before the last run's as_of {last} in {folder}: a cycle only "
            "moves forward; nothing was written"
        )
    data = data or load_data(config)
    root = cycles_folder(folder)
    before = _champions(config)
    if not _is_run(folder):
        result = run_job(config, as_of=day, out=folder, data=data)
        _keep_run(folder, root, day)
        return Cycle(day, None, result, True, before, _champions(config))
    judged = _judged(root, as_of=day, horizon_days=config.horizon_days)
    mon = monitor(config, reference=folder, as_of=day, data=data, judged=judged)
    run_id = log_cycle(mon.report, project=config.project_name, mlruns=config.paths.mlruns)
    history = monitoring_history(project=config.project_name, mlruns=config.paths.mlruns)
    write_monitoring(mon, root / day.isoformat(), config=config, history=history)
    retrain = mon.decision == "retrain"
    if retrain:
        promotions = train_models(data, config, as_of=day)
    else:
        promotions = dict.fromkeys(TASKS, "kept the champion: the monitoring decision is keep")
    result = score_job(config, as_of=day, out=folder, data=data, promotions=promotions)
    _keep_run(folder, root, day)
    after = _champions(config)
    _tag_cycle(config, run_id, promotions, after)
    return Cycle(day, mon, result, retrain, before, after, run_id)


def _tag_cycle(
    config: Config, run_id: str, promotions: dict[str, str], champions: dict[str, str | None]
) -> None:
    """The gate's verdicts and the champion versions after the cycle, on its MLflow run."""
    client = open_store(config.paths.mlruns)
    for task in TASKS:
        client.set_tag(run_id, f"gate.{task}", promotions.get(task, "")[:5000])
        client.set_tag(run_id, f"champion.{task}", champions.get(task) or "")
