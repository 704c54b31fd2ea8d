"""`customer-ml train segments`: choose the segmentation on the snapshot as of a date, log it
to MLflow (experiment and registered model <project>-segments) and register it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import mlflow
import mlflow.sklearn
from matplotlib import pyplot as plt
from mlflow.models import infer_signature

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.features.labels import feature_schema
from customer_ml.features.snapshot import build_snapshot
from customer_ml.tracking.backend import data_fingerprint, experiment_id, model_name, open_store
from customer_ml.tracking.pyfunc import REQUIREMENTS, input_example
from customer_ml.tracking.registry import champion_spec, register_challenger
from customer_ml.train.backtest import Progress, content_key
from customer_ml.train.plots import segment_figures
from customer_ml.train.segments import Segmentation, choose_segments, score_params

__all__ = ["SegmentResult", "train_segments"]


@dataclass
class SegmentResult:
    as_of: dt.date
    segmentation: Segmentation
    run_id: str | None = None
    version: str | None = None


def train_segments(
    data: Dataset,
    config: Config,
    *,
    as_of: dt.date,
    register: bool = True,
    log: bool = True,
    progress: Progress | None = None,
) -> SegmentResult:
    """Uses rows with ts <= as_of only (the snapshot as of that day)."""
    schema = feature_schema(data, as_of=as_of, config=config.features)
    snap = build_snapshot(data, as_of=as_of, config=config.features, **schema)
    seg = choose_segments(
        snap,
        n_trials=max(config.tuning.n_trials, 5),
        timeout_s=config.tuning.timeout_s * 2,
        seed=config.seed,
        progress=progress,
    )
    result = SegmentResult(as_of, seg)
    if not log:
        return result
    client = open_store(config.paths.mlruns)
    name = model_name(config.project_name, "segments")
    champ = champion_spec(client, name) if register else None
    exp = experiment_id(client, name, config.paths.mlruns)
    with mlflow.start_run(experiment_id=exp, run_name=f"segments as of {as_of}") as run:
        mlflow.log_params({**seg.params, "as_of": as_of.isoformat(), "columns": len(seg.columns)})
        mlflow.log_metrics(seg.quality)
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        mlflow.log_dict(data_fingerprint(data), "data_fingerprint.json")
        mlflow.log_dict({str(k): v for k, v in seg.names.items()}, "segment_names.json")
        mlflow.log_text(seg.profile.to_csv(), "segment_profile.csv")
        mlflow.log_text(seg.trials.to_csv(index=False), "tuning/trials.csv")
        for fname, fig in segment_figures(snap, seg).items():
            mlflow.log_figure(fig, f"plots/{fname}")
            plt.close(fig)
        # n_purchases: the count the shares are shrunk by, read beside the clustering columns
        extra = [c for c in ("n_purchases",) if c in snap and c not in seg.columns]
        example = input_example(snap, seg.columns + extra)
        info = mlflow.sklearn.log_model(
            seg.pipeline,
            name="model",
            signature=infer_signature(example, seg.pipeline.predict(example)),
            input_example=example,
            pip_requirements=REQUIREMENTS,
            # skops (no arbitrary pickle) with our own functions named as trusted
            skops_trusted_types=[
                "customer_ml.models.segments._select",
                "customer_ml.models.segments._log1p",
                "customer_ml.models.segment_features.SegmentFeatures",
                "numpy.dtype",
            ],
        )
        result.run_id = run.info.run_id
    if register:
        key = content_key(f"segments-{as_of}", (snap["customer_id"], None))
        tags = {
            "task": "segments",
            "candidate": f"{seg.params['algorithm']} k={seg.params['k']} {seg.params['transform']}",
            "spec": json.dumps(seg.params),
            "primary_metric": "segmentation_score",
            "metric_value": f"{seg.quality['score']:.6f}",
            "ci_low": "nan",
            "ci_high": "nan",
            "backtest_key": key,
            "as_of": as_of.isoformat(),
        }
        if champ is not None:
            tags["champion_version"] = champ[0]
            tags["champion_metric"] = f"{score_params(snap, champ[1], seed=config.seed):.6f}"
        result.version = register_challenger(
            client, name, model_uri=info.model_uri, run_id=result.run_id, tags=tags
        )
    return result
