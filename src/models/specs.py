"""Scorers rebuilt from their specs (as the model registry stores them): the one place that
knows every scorer class, above the modules that define them."""

from __future__ import annotations

from typing import Any

from customer_ml.models.contractual import AttributeLGBM, AttributeLogistic
from customer_ml.models.lgbm import LGBMChurnScorer, LGBMLTVScorer
from customer_ml.models.scorers import SCORERS, Scorer

__all__ = ["ALL_SCORERS", "from_spec"]

ALL_SCORERS: dict[str, type[Scorer]] = {
    **SCORERS,
    **{c.__name__: c for c in (LGBMChurnScorer, LGBMLTVScorer, AttributeLGBM, AttributeLogistic)},
}


def from_spec(spec: dict[str, Any]) -> Scorer:
    """Rebuild an unfitted scorer from `Scorer.spec()` (e.g. read from the model registry)."""
    known = ALL_SCORERS
    cls = known.get(spec.get("class", ""))
    if cls is None:
        raise ValueError(f"unknown scorer class {spec.get('class')!r}; known: {sorted(known)}")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["params"].items()}
    return cls(**params)
