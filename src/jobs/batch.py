"""The main job: `customer-ml run` (train or reuse, promote by the gate, score, report) and
`customer-ml score` (champions only). Both write their folder atomically: everything goes to a
temporary folder beside it, renamed into place at the end, so an interrupted job leaves the
previous outputs as they were.

Outputs (ARCHITECTURE.md section 4): scores.parquet / scores.csv (one row per customer seen up
to as_of), metrics.json (backtests of the models used and of every baseline, with sample
sizes), report.html, the feature store the service reads (features.parquet + features.json)
and the migration since the previous scores in the folder (migration_*.csv).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.data.load import load_data
from customer_ml.errors import DataError
from customer_ml.files import atomic_dir, write_parquet
from customer_ml.report import build_metrics, build_report
from customer_ml.scoring.feature_store import build_store
from customer_ml.scoring.migration import transition_matrix
from customer_ml.scoring.models import load_models
from customer_ml.scoring.products import with_top_products
from customer_ml.scoring.results import JobResult
from customer_ml.scoring.score import CustomerScorer
from customer_ml.tracking.backend import experiment_id, model_name, open_store
from customer_ml.tracking.registry import Promotion, promote, version_by_alias

__all__ = [
    "MIGRATED",
    "JobResult",
    "promote_model",
    "run_job",
    "score_job",
    "train_for_run",
    "train_models",
    "write_scores",
]

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
MIGRATED = ("segment_name", "value_tier", "lifecycle_stage")
LIST_COLUMNS = ("tags", "top_reasons", "ltv_reasons", "top_products")


def _has_champion(config: Config, task: str) -> bool:
    client = open_store(config.paths.mlruns)
    name = model_name(config.project_name, task)
    return version_by_alias(client, name, "champion") is not None


def promote_model(config: Config, task: str, *, force: bool = False) -> Promotion:
    """Move the `champion` alias of <project>-<task> to its challenger if the challenger is
    better on the same backtest (or when `force`, which is recorded)."""
    client = open_store(config.paths.mlruns)
    return promote(client, model_name(config.project_name, task), force=force)


def train_models(
    data: Dataset,
    config: Config,
    *,
    as_of: dt.date,
    tasks: tuple[str, ...] = ("churn", "ltv", "segments"),
    progress: Progress | None = None,
) -> dict[str, str]:
    """Train, register and promote (by the gate) each task; returns the gate's verdicts."""
    # training (Optuna, the tuned candidates) loads only when a run trains: `score` and the
    # service never import it
    from customer_ml.train.jobs import prepare_frames, train_task
    from customer_ml.train.segment_job import train_segments

    frames = None
    for task in tasks:
        if task == "segments":
            train_segments(data, config, as_of=as_of, progress=progress)
            continue
        frames = frames or prepare_frames(data, config, as_of=as_of, progress=progress)
        train_task(data, config, task=task, as_of=as_of, frames=frames, progress=progress)
    return {t: promote_model(config, t).message for t in tasks}


def run_job(
    config: Config,
    *,
    as_of: str | dt.date | None = None,
    out: str | Path | None = None,
    reuse_models: bool = False,
    data: Dataset | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Load, train (or reuse the registered champions), promote by the gate, score every
    customer seen up to `as_of` and write the outputs. Uses rows with ts <= as_of only."""
    data = data or load_data(config)
    day, promotions = train_for_run(
        data, config, as_of=as_of, reuse_models=reuse_models, progress=progress
    )
    return score_job(config, as_of=day, out=out, data=data, promotions=promotions)


def train_for_run(
    data: Dataset,
    config: Config,
    *,
    as_of: str | dt.date | None = None,
    reuse_models: bool = False,
    progress: Progress | None = None,
) -> tuple[dt.date, dict[str, str]]:
    """The training half of `run_job`: the as_of day and the gate's verdict per task."""
    from customer_ml.train.jobs import resolve_as_of

    if not data.has_transactions:
        raise DataError("`run` scores customers from transactions; the config names none")
    day = resolve_as_of(data, config, as_of)
    tasks = ("churn", "ltv", "segments")
    todo = tuple(t for t in tasks if not (reuse_models and _has_champion(config, t)))
    promotions = train_models(data, config, as_of=day, tasks=todo, progress=progress)
    for t in tasks:
        promotions.setdefault(t, "reused the registered champion")
    return day, promotions


def _previous(out: Path) -> pd.DataFrame | None:
    path = out / "scores.parquet"
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path, columns=["customer_id", *MIGRATED])
    except (OSError, ValueError, KeyError) as err:
        log.warning("previous scores in %s unreadable (%s): no migration report", out, err)
        return None


def migration(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per label: customers counted and value weighted (predicted LTV, else expected
    purchases, of the later run), by customer_id."""
    b = before.astype({"customer_id": str}).set_index("customer_id")
    a = after.astype({"customer_id": str}).set_index("customer_id")
    value = a["predicted_ltv"] if a["predicted_ltv"].notna().any() else a["expected_purchases"]
    out = {}
    for col in MIGRATED:
        out[f"{col}_customers"] = transition_matrix(b[col], a[col])
        out[f"{col}_value"] = transition_matrix(b[col], a[col], weights=value)
    return out


def write_scores(scores: pd.DataFrame, folder: Path) -> None:
    """scores.parquet (lists as lists) and scores.csv (lists joined by ' | ')."""
    write_parquet(scores, folder / "scores.parquet")
    flat = scores.copy()
    for col in LIST_COLUMNS:
        if col in flat:  # joined in Arrow: no Python list per customer
            flat[col] = pd.array(pc.binary_join(pa.array(flat[col]), " | "), dtype="str")
    flat.to_csv(folder / "scores.csv", index=False)


def score_job(
    config: Config,
    *,
    as_of: str | dt.date,
    out: str | Path | None = None,
    data: Dataset | None = None,
    promotions: dict[str, str] | None = None,
) -> JobResult:
    """Score every customer seen up to `as_of` with the registered champions (no training)
    and write the outputs into `out` (default: the config's paths.out) atomically."""
    data = data or load_data(config)
    day = pd.Timestamp(as_of).date()
    models = load_models(config)
    store = build_store(data, as_of=day, config=config, schema=models.schema)
    scores = CustomerScorer(models, store, config).score_store()
    scores, recs, recs_info = with_top_products(scores, config, as_of=day)
    folder = Path(out) if out is not None else config.paths.out
    before = _previous(folder)
    moved = migration(before, scores) if before is not None else {}
    metrics = build_metrics(
        config,
        models,
        scores,
        as_of=day,
        promotions=promotions or {},
        data_profile=data.profile(),
    )
    if recs_info:
        metrics["recommendations"] = recs_info
    result = JobResult(
        folder, day, scores, metrics, models, moved, promotions or {}, store.frame, recs
    )
    html = build_report(result, config=config)
    with atomic_dir(folder) as tmp:
        write_scores(scores, tmp)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        (tmp / "report.html").write_text(html)
        store.write(tmp)
        for name, table in moved.items():
            table.to_csv(tmp / f"migration_{name}.csv")
    _log_report(config, folder, day)
    return result


def _log_report(config: Config, folder: Path, day: dt.date) -> None:
    """The report and metrics as artifacts of a run in the <project>-runs experiment."""
    client = open_store(config.paths.mlruns)
    exp = experiment_id(client, model_name(config.project_name, "runs"), config.paths.mlruns)
    with mlflow.start_run(experiment_id=exp, run_name=f"scoring as of {day}"):
        mlflow.log_param("as_of", day.isoformat())
        mlflow.log_artifact(str(folder / "report.html"))
        mlflow.log_artifact(str(folder / "metrics.json"))
