"""Top products in the scores: each customer's best products from `customer-ml recommend`,
when its recommendations are as of the same date as the scores."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from customer_ml.config import Config
from customer_ml.recs.published import Published, read_published

__all__ = ["with_top_products"]

log = logging.getLogger(__name__)


def with_top_products(
    scores: pd.DataFrame, config: Config, *, as_of: dt.date
) -> tuple[pd.DataFrame, Published | None, dict[str, object]]:
    """`scores` with a `top_products` column (lists of product ids, best first; task "all"),
    the recommendations used, and what happened for metrics.json. Recommendations as of
    another date are not used: the scores would mix two points in time."""
    k = config.recommend.in_scores
    pub = read_published(config) if k else None
    if pub is None:
        return scores, None, {}
    if pub.as_of != as_of:
        note = (
            f"recommendations in {pub.folder} are as of {pub.as_of}, not {as_of}: no "
            f"top_products (run `customer-ml recommend --as-of {as_of}`)"
        )
        log.warning(note)
        return scores, None, {"note": note}
    out = scores.assign(top_products=pub.top_products(scores["customer_id"], k=k))
    info: dict[str, object] = {"as_of": str(pub.as_of), "k": k, "champion": pub.champion("all")}
    return out, pub, info
