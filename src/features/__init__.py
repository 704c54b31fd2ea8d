"""Point-in-time customer behaviour vectors, labels and layered tags."""

from customer_ml.features.catalogue import describe, feature_catalogue
from customer_ml.features.labels import build_labels, build_training_frame, contractual_labels
from customer_ml.features.materialise import build_features, write_features
from customer_ml.features.snapshot import build_snapshot
from customer_ml.features.tags import build_tags

__all__ = [
    "build_features",
    "build_labels",
    "build_snapshot",
    "build_tags",
    "build_training_frame",
    "contractual_labels",
    "describe",
    "feature_catalogue",
    "write_features",
]
