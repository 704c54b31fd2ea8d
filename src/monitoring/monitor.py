"""`customer-ml monitor`: is today's data still like the reference run's, how good were its
predictions now that their horizon has passed, and should the models be retrained.

The reference is the output folder of an earlier `run` or `score` (scores.parquet,
metrics.json and the feature store features.parquet + features.json). The current snapshot is
built as of `as_of` from rows with ts <= as_of only, in the reference's feature schema.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.data.load import load_data
from customer_ml.errors import DataError
from customer_ml.files import atomic_file
from customer_ml.monitoring.drift import METHOD, align_time, drift_report
from customer_ml.monitoring.realised import backtest_figures, realised_metrics
from customer_ml.scoring.feature_store import FeatureStore, build_store, read_store

__all__ = ["PREDICTIONS", "Monitoring", "decide", "monitor", "read_reference"]

PREDICTIONS = ("churn_probability", "predicted_ltv")
REFERENCE_FILES = ("scores.parquet", "metrics.json", "features.parquet", "features.json")


@dataclass
class Reference:
    folder: Path
    store: FeatureStore
    scores: pd.DataFrame
    metrics: dict[str, Any]


@dataclass
class Monitoring:
    """What `monitor` found; `report` is what monitor.json holds."""

    report: dict[str, Any]
    current: FeatureStore | None = field(default=None, repr=False)

    @property
    def decision(self) -> str:
        return str(self.report["decision"]["action"])


def read_reference(folder: str | Path) -> Reference:
    """An earlier run's output folder; DataError naming what is missing if it is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--reference {folder}: no such folder")
    missing = [f for f in REFERENCE_FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"--reference {folder} is not the output of `customer-ml run` or `score`: "
            f"{', '.join(missing)} missing"
        )
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        scores = pd.read_parquet(folder / "scores.parquet")
    except (OSError, ValueError) as err:
        raise DataError(f"--reference {folder}: unreadable run output ({err})") from None
    return Reference(folder, read_store(folder), scores, metrics)


def _current_scores(config: Config, store: FeatureStore) -> pd.DataFrame | None:
    """The champions' predictions on the current snapshot (None without registered models)."""
    from customer_ml.scoring.models import load_models
    from customer_ml.scoring.score import CustomerScorer

    try:
        models = load_models(config)
    except (DataError, LookupError, OSError):
        return None
    return CustomerScorer(models, store, config).score_store()


def _new_customers(before: pd.DataFrame, after: pd.DataFrame) -> int:
    known = before["customer_id"].astype(str)
    return int((~after["customer_id"].astype(str).isin(known)).sum())


def decide(report: dict[str, Any], config: Config) -> dict[str, Any]:
    """`retrain` when a threshold of config.monitoring is crossed, else `keep`; with reasons."""
    m = config.monitoring
    reasons, retrain = [], False
    share = report["drift"]["share_drifted"]
    drifted = [k for k, v in report["drift"]["features"].items() if v["drifted"]]
    if share > m.max_share_drifted:
        retrain = True
        reasons.append(
            f"{share:.0%} of features drifted (more than {m.max_share_drifted:.0%}): "
            + ", ".join(drifted[:12])
        )
    else:
        reasons.append(f"{share:.0%} of features drifted (at most {m.max_share_drifted:.0%})")
    moved = [k for k, v in report["drift"]["predictions"].items() if v["drifted"]]
    if moved and m.drift_on_predictions:
        retrain = True
        reasons.append(f"the predictions drifted: {', '.join(moved)}")
    real = report.get("realised")
    if real:
        auc, base = real.get("churn_auc"), real["backtest"].get("churn_auc")
        if auc is not None and base is not None:
            drop = base - auc
            if drop > m.max_auc_drop:
                retrain = True
                reasons.append(
                    f"realised churn AUC {auc:.3f} (scores as of {real['as_of']}) is "
                    f"{drop:.3f} below the backtest's "
                    f"{base:.3f} (more than {m.max_auc_drop:.3f})"
                )
            else:
                reasons.append(
                    f"realised churn AUC {auc:.3f} (scores as of {real['as_of']}) against "
                    f"the backtest's {base:.3f}"
                )
    else:
        reasons.append("no scored run's horizon has passed yet: no realised performance")
    return {"action": "retrain" if retrain else "keep", "reasons": reasons}


def monitor(
    config: Config,
    *,
    reference: str | Path,
    as_of: str | dt.date,
    out: str | Path | None = None,
    data: Dataset | None = None,
    judged: str | Path | None = None,
) -> Monitoring:
    """Drift from the reference run's snapshot to the snapshot as of `as_of` (rows with
    ts <= as_of only), the reference's predictions against what happened in their horizon
    when `as_of` is at least that far past the reference's as_of, and the decision. Writes
    monitor.json and monitor.html into `out` atomically when given (nothing on bad input).

    `judged`, an earlier run's output folder, supplies the realised figures instead when the
    reference is more recent than one horizon (runs more frequent than the horizon); it is
    used only if its own horizon has passed by `as_of`.
    """
    ref = read_reference(reference)
    try:
        day = pd.Timestamp(as_of).date()
    except ValueError:
        raise DataError(f"--as-of {as_of!r}: not a date (YYYY-MM-DD)") from None
    if day < ref.store.as_of:
        raise DataError(
            f"--as-of {day} is before the reference run's as_of {ref.store.as_of} "
            f"({ref.folder}): monitoring looks forward from the reference"
        )
    data = data or load_data(config)
    current = build_store(data, as_of=day, config=config, schema=ref.store.schema)
    elapsed = (day - ref.store.as_of).days
    features = [c for c in ref.store.feature_columns if c in current.frame]
    a, b = align_time(ref.store.frame, current.frame, days=elapsed)
    per = drift_report(a, b, columns=features)
    cur_scores = _current_scores(config, current)
    preds = {}
    if cur_scores is not None:
        cols = [c for c in PREDICTIONS if c in ref.scores and ref.scores[c].notna().any()]
        preds = drift_report(ref.scores, cur_scores, columns=cols)
    report: dict[str, Any] = {
        "reference": {"folder": str(ref.folder.resolve()), "as_of": ref.store.as_of.isoformat()},
        "as_of": day.isoformat(),
        "days_elapsed": elapsed,
        "horizon_days": ref.store.horizon_days,
        "customers": {
            "reference": len(ref.store.frame),
            "current": len(current.frame),
            "new": _new_customers(ref.scores, current.frame),
        },
        "drift": {
            "engine": "evidently",
            "time_features": METHOD,
            "share_drifted": sum(v["drifted"] for v in per.values()) / max(len(per), 1),
            "features": per,
            "predictions": preds,
        },
        "realised": None,
    }
    past = ref if elapsed >= ref.store.horizon_days else None
    if past is None and judged is not None:
        past = read_reference(judged)
        if (day - past.store.as_of).days < past.store.horizon_days:
            past = None
    if past is not None:
        real = realised_metrics(
            data, past.scores, as_of=past.store.as_of, horizon_days=past.store.horizon_days
        )
        report["realised"] = real | {"backtest": backtest_figures(past.metrics)}
    report["decision"] = decide(report, config)
    result = Monitoring(report, current)
    if out is not None:
        write_monitoring(result, Path(out), config=config)
    return result


def write_monitoring(
    result: Monitoring, folder: Path, *, config: Config, history: pd.DataFrame | None = None
) -> None:
    """monitor.json and monitor.html into `folder`, each atomically (both built first; the
    folder's other files are left alone, so it may be the run's own folder). `history`: the
    logged cycles, drawn over time in monitor.html."""
    from customer_ml.monitoring.html import monitor_html

    text = json.dumps(result.report, indent=2, default=str)
    html = monitor_html(result.report, config=config, history=history)
    for name, body in (("monitor.json", text), ("monitor.html", html)):
        with atomic_file(folder / name) as tmp:
            tmp.write_text(body)
