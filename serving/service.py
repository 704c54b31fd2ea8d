"""The scoring service: champions from the MLflow registry, the feature store in memory.

    CUSTOMER_ML_CONFIG=configs/default.yaml bentoml serve serving.service:CustomerScoring

(or `customer-ml serve --config X`). Environment: CUSTOMER_ML_CONFIG (required), CUSTOMER_ML_STORE
(the folder of features.parquet; default: the config's paths.out) and the API key variable
named by the config's serving.api_key_env (when set, every request but /livez, /readyz,
/healthz and /metrics needs `Authorization: Bearer <key>`, or `X-API-Key: <key>`); bodies over
serving.max_body_bytes get 413 (see serving.guard).
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

import bentoml
from bentoml.exceptions import InvalidArgument, NotFound

from customer_ml.privacy import pseudonym
from serving.guard import GuardMiddleware
from serving.schemas import (
    CustomerIn,
    CustomerScore,
    Explanation,
    Product,
    Recommendations,
    RecommendIn,
)


def _settings() -> tuple[Any, str | None]:
    from customer_ml.config import load_config

    path = os.environ.get("CUSTOMER_ML_CONFIG")
    if not path:
        raise RuntimeError("set CUSTOMER_ML_CONFIG to the config file the models were trained with")
    config = load_config(path)
    return config, os.environ.get(config.serving.api_key_env) or None


log = logging.getLogger(__name__)


@bentoml.service(workers=1)
class CustomerScoring:
    """Segments, tags, churn, LTV, reasons and actions for customers, by id or by features."""

    def __init__(self) -> None:
        from customer_ml.scoring.feature_store import read_store
        from customer_ml.scoring.models import load_models
        from customer_ml.scoring.score import CustomerScorer

        config, _ = _settings()
        store = read_store(os.environ.get("CUSTOMER_ML_STORE") or config.paths.out)
        self.scorer = CustomerScorer(load_models(config), store, config)
        self.max_batch = config.serving.max_batch
        self.salt_env = config.privacy.salt_env
        self.as_of = store.as_of.isoformat()
        # the store and the champions are fixed for the life of the process, so the scores of
        # the customers in it are too: computed once (same code as a request) when it is small
        self.cached: dict[str, dict[str, Any]] = {}
        if len(store.frame) <= config.serving.precompute_limit:
            scores = self.scorer.score_store()
            self.cached = {str(r["customer_id"]): r for r in scores.to_dict(orient="records")}
        self.recs = _load_recommendations(config)
        # what start-up loaded lives as long as the worker: keep the garbage collector from
        # walking it on every full collection (pauses of tens of ms under load)
        gc.collect()
        gc.freeze()

    def _frames(
        self, customers: list[CustomerIn], index: list[int] | None = None
    ) -> tuple[Any, list[int], dict[int, str]]:
        """Scoring rows for the customers that can be scored, their positions, and an error
        per position that cannot."""
        import pandas as pd

        store = self.scorer.store
        known = set(store.feature_columns)
        errors: dict[int, str] = {}
        rows, sent, where = [], [], []
        positions = store.lookup([c.customer_id for c in customers])
        for i, (c, pos) in enumerate(zip(customers, positions, strict=True)):
            if c.features is None:
                if pos < 0:
                    errors[i] = f"unknown customer_id {c.customer_id!r} (not in the feature store)"
                    log.info(
                        "unknown customer %s", pseudonym(c.customer_id, salt_env=self.salt_env)
                    )
                else:
                    rows.append(int(pos))
                    where.append(i)
                continue
            unknown = sorted(set(c.features) - known)
            if unknown:
                at = index[i] if index else i
                raise InvalidArgument(f"customers[{at}].features: unknown feature(s) {unknown}")
            sent.append({**c.features, "customer_id": str(c.customer_id)})
        parts = [store.frame.iloc[rows]] if rows else []
        if sent:
            try:
                parts.append(store.complete(pd.DataFrame(sent)))
            except ValueError as err:
                raise InvalidArgument(f"customers[].features: {err}") from None
            where += [i for i, c in enumerate(customers) if c.features is not None]
        frame = pd.concat(parts, ignore_index=True) if parts else None
        return frame, where, errors

    def _score(self, customers: list[CustomerIn]) -> list[CustomerScore]:
        import math

        if not customers:
            raise InvalidArgument("customers: give at least one customer")
        if len(customers) > self.max_batch:
            raise InvalidArgument(
                f"customers: {len(customers)} in one request, the limit is {self.max_batch}"
            )
        out: list[CustomerScore | None] = [None] * len(customers)
        versions = self.scorer.models.versions
        records: list[tuple[int, dict[str, Any]]] = []
        todo = []
        for i, c in enumerate(customers):
            hit = self.cached.get(str(c.customer_id)) if c.features is None else None
            if hit is not None:
                records.append((i, hit))
            else:
                todo.append(i)
        frame, where, errors = self._frames([customers[i] for i in todo], todo)
        where, errors = [todo[j] for j in where], {todo[j]: m for j, m in errors.items()}
        if frame is not None:
            records += zip(where, self.scorer.score(frame).to_dict(orient="records"), strict=True)
        lists = ("tags", "top_reasons", "ltv_reasons")
        for i, rec in records:
            clean = {
                k: list(v)
                if k in lists
                else None
                if isinstance(v, float) and not math.isfinite(v)
                else v
                for k, v in rec.items()
            }
            clean["customer_id"] = str(customers[i].customer_id)
            out[i] = CustomerScore(**clean, model_versions=versions, as_of=self.as_of)
        for i, msg in errors.items():
            out[i] = CustomerScore(customer_id=str(customers[i].customer_id), error=msg)
        return [o for o in out if o is not None]

    @bentoml.api
    def score(self, customers: list[CustomerIn]) -> list[CustomerScore]:
        """Score a batch: each customer by id or with features; unknown ids get an error."""
        return self._score(customers)

    @bentoml.api
    def explain(self, customer: CustomerIn) -> Explanation:
        """The full contribution vectors behind one customer's scores."""
        frame, _, _ = self._frames([customer])
        if frame is None:
            # BentoML logs this message: the id appears as its pseudonym
            who = pseudonym(customer.customer_id, salt_env=self.salt_env)
            raise NotFound(f"customer_id not in the feature store (logged as {who})")
        detail = self.scorer.explain(frame)
        scores = self._score([customer])[0]
        return Explanation(customer_id=str(customer.customer_id), **detail, scores=scores)

    @bentoml.api
    def recommend(self, request: RecommendIn) -> Recommendations:
        """The next products for one customer; an unknown id gets popularity ("new customer")."""
        if self.recs is None:
            raise NotFound("no recommendations: run `customer-ml recommend` for this config")
        cid = str(request.customer_id)
        task = "new" if request.new_only else "all"
        products, note = self.recs.get((cid, task)), None
        if products is None:
            products, note = self.recs.get(("", "new customer"), []), "new customer"
        if request.category is not None:
            products = [p for p in products if p.category == request.category]
        return Recommendations(
            customer_id=cid, products=products[: request.k], note=note, as_of=self.as_of
        )


def _load_recommendations(config: Any) -> dict[tuple[str, str], list[Product]] | None:
    """(customer_id, task) -> its products best first, from `customer-ml recommend`'s
    serving table (CUSTOMER_ML_RECS, else <paths.out>-recs/serving.parquet); None if absent."""
    from pathlib import Path

    import pandas as pd

    out = config.paths.out
    path = Path(os.environ.get("CUSTOMER_ML_RECS") or out.with_name(f"{out.name}-recs"))
    if not (path / "serving.parquet").is_file():
        return None
    table = pd.read_parquet(path / "serving.parquet").sort_values(["customer_id", "task", "rank"])
    table["category"] = table.category.where(table.category.notna() & (table.category != "nan"))
    recs: dict[tuple[str, str], list[Product]] = {}
    for key, part in table.groupby(["customer_id", "task"], sort=False):
        recs[(str(key[0]), str(key[1]))] = [
            Product(**r)
            for r in part[["product_id", "score", "reason", "category"]].to_dict("records")
        ]
    return recs


def _guard_options() -> dict[str, Any]:
    try:
        config, key = _settings()
    except RuntimeError:  # no config yet: __init__ will say so
        return {"api_key": None}
    return {"api_key": key, "max_body_bytes": config.serving.max_body_bytes}


CustomerScoring.add_asgi_middleware(GuardMiddleware, **_guard_options())
# BentoML 1.4 finds the media type of a list output by generating the output's whole JSON
# schema on every response (~8 ms for CustomerScore); it is always JSON, so say so once.
# (The OpenAPI spec is unchanged: it asks the same method.)
CustomerScoring.apis["score"].output_spec.media_type = "application/json"
