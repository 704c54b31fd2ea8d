"""Scoring customers: segment, tags, churn probability, expected purchases, predicted LTV,
reasons in words and the recommended action, one row per customer.

`CustomerScorer` holds the models and the population they are scored against (the feature
store); batch scoring, the HTTP service and notebooks all call `score`, so they agree to the
last digit for the same customer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.features.arrays import text_array
from customer_ml.features.tags import TagReference, tag_columns
from customer_ml.scoring.feature_store import FeatureStore, build_store
from customer_ml.scoring.models import Models
from customer_ml.scoring.parallel import map_rows, worker_count
from customer_ml.scoring.playbook import apply_playbook, playbook, value_at_risk
from customer_ml.scoring.reasons import ReasonBase, render_reasons, score_contributions

__all__ = ["SCORE_COLUMNS", "CustomerScorer", "score"]

SCORE_COLUMNS = [
    "customer_id",
    "segment",
    "segment_name",
    "value_tier",
    "lifecycle_stage",
    "rfm_score",
    "rfm_segment",
    "tags",
    "churn_probability",
    "expected_purchases",
    "predicted_ltv",
    "value_at_risk",
    "top_reasons",
    "ltv_reasons",
    "recommended_action",
    "action_channel",
]


class CustomerScorer:
    """The models plus the population they score against (quintiles, value ranks and driver
    statistics come from the feature store, so scoring one customer equals scoring all)."""

    def __init__(
        self,
        models: Models,
        store: FeatureStore,
        config: Config,
        *,
        tag_reference: TagReference | None = None,
        reason_base: ReasonBase | None = None,
    ) -> None:
        """`tag_reference` and `reason_base` default to the store's population; given, they
        stand for a population the store frame does not hold (a distributed one)."""
        self.models = models
        self.store = store
        self.config = config
        self.rules = playbook(config)
        self.tag_reference = tag_reference or TagReference(store.frame, config.tags)
        self.reason_base = reason_base or ReasonBase(store.frame)
        self.has_amount = "monetary_total" in store.frame

    def score(
        self, frame: pd.DataFrame, *, reasons: int = 3, workers: int | None = None
    ) -> pd.DataFrame:
        """Scores for every row of `frame` (scoring rows: the store's columns). Large batches
        are split between `workers` processes (default: the config's ``scoring.workers``;
        0: one per core; see `scoring.parallel`), which changes no number."""
        frame = frame.reset_index(drop=True)
        wanted = self.config.scoring.workers if workers is None else workers
        n = worker_count(len(frame), wanted)
        with _gc_paused():  # many small strings: no collections meanwhile
            if n == 1:
                return self._score(frame, reasons)
            score = functools.partial(self._score, reasons=reasons)
            return map_rows(score, frame, n, timeout_s=self.config.scoring.worker_timeout_s)

    def _score(self, frame: pd.DataFrame, reasons: int) -> pd.DataFrame:
        tags = tag_columns(frame, self.config.tags, self.tag_reference)
        seg = self.models.segments.assign(frame)
        churn, churn_contrib = self.models.churn.scorer.predict_explain(frame)
        value, ltv_contrib = self.models.ltv.scorer.predict_explain(frame)
        churn, value = np.clip(churn, 0.0, 1.0), np.clip(value, 0.0, None)
        if self.has_amount:  # the LTV model forecasts revenue; BG/NBD the purchase count
            purchases, ltv = frame["bgnbd_expected_purchases"].to_numpy(float), value
        else:
            purchases, ltv = value, np.full(len(frame), np.nan)
        names = self.models.segments.names
        segments, codes = np.unique(seg, return_inverse=True)
        labels = [names.get(int(s), f"segment {s}") for s in segments]
        out = pd.DataFrame(
            {
                "customer_id": frame["customer_id"].array,  # as it is: no copy
                "segment": seg,
                "segment_name": text_array(codes, labels),
                "value_tier": tags["value_tier"],
                "lifecycle_stage": tags["lifecycle_stage"],
                "rfm_score": tags["rfm_score"],
                "rfm_segment": tags["rfm_segment"],
                "tags": tags["tags"],
                "churn_probability": churn,
                "expected_purchases": purchases,
                "predicted_ltv": ltv,
            }
        )
        out["value_at_risk"] = value_at_risk(out).to_numpy()
        kw = {"n": reasons, "horizon_days": self.models.horizon_days}
        churn_why = self.contributions(frame, "churn", churn_contrib)
        ltv_why = self.contributions(frame, "ltv", ltv_contrib)
        out["top_reasons"] = render_reasons(churn_why, frame, **kw)
        out["ltv_reasons"] = render_reasons(ltv_why, frame, **kw)
        out = pd.concat([out, apply_playbook(out, self.rules)], axis=1)
        return out[SCORE_COLUMNS]

    def contributions(
        self, frame: pd.DataFrame, task: str, contrib: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """The signed contributions behind a task's score (see `scoring.reasons`); `contrib`:
        the scorer's raw contributions, when already computed."""
        model = self.models.churn if task == "churn" else self.models.ltv
        return score_contributions(
            model.scorer, frame, task=task, base=self.reason_base, contrib=contrib
        )

    def explain(self, frame: pd.DataFrame) -> dict[str, Any]:
        """Everything behind one customer's scores: full churn and LTV contribution vectors
        (with the base value they add to) and the segment's distance contributions."""
        row = frame.reset_index(drop=True).iloc[:1]
        out: dict[str, Any] = {}
        for task, model in (("churn", self.models.churn), ("ltv", self.models.ltv)):
            raw = model.scorer.contributions(row).iloc[0]
            out[task] = {
                "contributions": {k: float(v) for k, v in raw.items() if k != "base"},
                "base": float(raw.get("base", 0.0)),
                "reason_weights": {
                    k: float(v) for k, v in self.contributions(row, task).iloc[0].items()
                },
            }
        seg = self.models.segments.explain(row).iloc[0]
        out["segment"] = {k: float(v) for k, v in seg.items()}
        return out

    def score_store(self) -> pd.DataFrame:
        """Every customer of the feature store."""
        return self.score(self.store.frame)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def score(data: Dataset, *, models: Models, as_of: str | dt.date, config: Config) -> pd.DataFrame:
    """Score every customer seen up to `as_of` (rows with ts <= as_of only) with `models`."""
    day = pd.Timestamp(as_of).date()
    store = build_store(data, as_of=day, config=config, schema=models.schema)
    return CustomerScorer(models, store, config).score_store()
