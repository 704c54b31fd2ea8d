"""customer-ml: customer segmentation, churn and lifetime value on point-in-time features.

The public API for notebooks; the CLI and the service are thin layers over it::

    import customer_ml as cm
    cfg = cm.load_config("configs/cdnow.yaml")
    data = cm.load_data(cfg)
    snap = cm.build_snapshot(data, as_of="1998-01-31", config=cfg.features)
    result = cm.run_job(cfg, data=data, as_of="1998-01-31")   # train, promote, score, write
    result.scores                                              # what `customer-ml run` writes

Training and scoring names are imported on first use, so that `import customer_ml` (and the
service, which must not pull in Optuna) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from customer_ml.config import Config, ConfigError, load_config, parse_config
from customer_ml.data.dataset import CleaningReport, Dataset
from customer_ml.data.load import connect, from_frames, load_data
from customer_ml.data.synthetic import SyntheticData, generate
from customer_ml.errors import DataError
from customer_ml.version import __version__ as __version__

if TYPE_CHECKING:
    from customer_ml.features import (
        build_labels,
        build_snapshot,
        build_tags,
        build_training_frame,
        describe,
        feature_catalogue,
    )
    from customer_ml.jobs.batch import JobResult, promote_model, run_job, score_job, train_models
    from customer_ml.monitoring.cycle import Cycle, cycle_job
    from customer_ml.monitoring.monitor import Monitoring, monitor
    from customer_ml.recs.evaluate import Backtest, backtest_recommenders
    from customer_ml.recs.recommender import Recommender
    from customer_ml.recs.synthetic import generate_baskets
    from customer_ml.scoring.campaign import measure_campaign
    from customer_ml.scoring.feature_store import FeatureStore, build_store, read_store
    from customer_ml.scoring.migration import migration_figure, transition_matrix
    from customer_ml.scoring.models import Models, load_models
    from customer_ml.scoring.score import CustomerScorer, score
    from customer_ml.scoring.targets import target_list
    from customer_ml.train.jobs import evaluate_baselines, train_task
    from customer_ml.train.recommend import RecommendResult, recommend_job
    from customer_ml.train.segments import Segmentation, choose_segments

_LAZY = {
    "build_labels": "customer_ml.features",
    "build_snapshot": "customer_ml.features",
    "build_tags": "customer_ml.features",
    "build_training_frame": "customer_ml.features",
    "describe": "customer_ml.features",
    "feature_catalogue": "customer_ml.features",
    "train_task": "customer_ml.train.jobs",
    "evaluate_baselines": "customer_ml.train.jobs",
    "choose_segments": "customer_ml.train.segments",
    "Segmentation": "customer_ml.train.segments",
    "JobResult": "customer_ml.scoring.results",
    "run_job": "customer_ml.jobs.batch",
    "promote_model": "customer_ml.jobs.batch",
    "score_job": "customer_ml.jobs.batch",
    "train_models": "customer_ml.jobs.batch",
    "Models": "customer_ml.scoring.models",
    "load_models": "customer_ml.scoring.models",
    "CustomerScorer": "customer_ml.scoring.score",
    "score": "customer_ml.scoring.score",
    "FeatureStore": "customer_ml.scoring.feature_store",
    "build_store": "customer_ml.scoring.feature_store",
    "read_store": "customer_ml.scoring.feature_store",
    "transition_matrix": "customer_ml.scoring.migration",
    "migration_figure": "customer_ml.scoring.migration",
    "target_list": "customer_ml.scoring.targets",
    "monitor": "customer_ml.monitoring.monitor",
    "Monitoring": "customer_ml.monitoring.monitor",
    "cycle_job": "customer_ml.monitoring.cycle",
    "Cycle": "customer_ml.monitoring.cycle",
    "measure_campaign": "customer_ml.scoring.campaign",
    "Recommender": "customer_ml.recs.recommender",
    "Backtest": "customer_ml.recs.evaluate",
    "backtest_recommenders": "customer_ml.recs.evaluate",
    "generate_baskets": "customer_ml.recs.synthetic",
    "recommend_job": "customer_ml.train.recommend",
    "RecommendResult": "customer_ml.train.recommend",
}

__all__ = [
    "Backtest",
    "CleaningReport",
    "Config",
    "ConfigError",
    "CustomerScorer",
    "Cycle",
    "DataError",
    "Dataset",
    "FeatureStore",
    "JobResult",
    "Models",
    "Monitoring",
    "RecommendResult",
    "Recommender",
    "Segmentation",
    "SyntheticData",
    "backtest_recommenders",
    "build_labels",
    "build_snapshot",
    "build_store",
    "build_tags",
    "build_training_frame",
    "choose_segments",
    "connect",
    "cycle_job",
    "describe",
    "evaluate_baselines",
    "feature_catalogue",
    "from_frames",
    "generate",
    "generate_baskets",
    "load_config",
    "load_data",
    "load_models",
    "measure_campaign",
    "migration_figure",
    "monitor",
    "parse_config",
    "promote_model",
    "read_store",
    "recommend_job",
    "run_job",
    "score",
    "score_job",
    "target_list",
    "train_models",
    "train_task",
    "transition_matrix",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'customer_ml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
