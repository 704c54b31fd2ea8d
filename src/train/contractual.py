"""Contractual churn (e.g. Telco): no time axis, so stratified k-fold cross-validation.

The customers table's attributes are the features and its `churned` column the label. The
candidates are a logistic regression and LightGBM; the best on ROC-AUC (mean over folds,
bootstrap CI) is fit on every customer, logged and registered like the transactional models.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.features.labels import contractual_labels
from customer_ml.models.contractual import AttributeLGBM, AttributeLogistic
from customer_ml.models.metrics import churn_metrics
from customer_ml.models.scorers import Scorer
from customer_ml.tracking.backend import model_name, open_store
from customer_ml.tracking.pyfunc import ScorerModel
from customer_ml.train.backtest import Backtest, Progress, aggregate, content_key
from customer_ml.train.publish import add_champion, publish

if TYPE_CHECKING:
    from customer_ml.train.results import TaskResult

__all__ = ["contractual_candidates", "cross_validate", "train_contractual"]


def contractual_candidates(seed: int = 0) -> dict[str, Scorer]:
    return {"logistic": AttributeLogistic(), "lgbm": AttributeLGBM(seed=seed)}


def _frame(data: Dataset) -> pd.DataFrame:
    labels = contractual_labels(data)
    X = data.table("customers").drop(columns=["churned"])
    return X.merge(labels, on="customer_id", validate="one_to_one")


def cross_validate(
    frame: pd.DataFrame,
    candidates: dict[str, Scorer],
    *,
    n_splits: int = 5,
    n_boot: int = 200,
    seed: int = 0,
    progress: Progress | None = None,
) -> Backtest:
    """Stratified k-fold: every candidate fit on k - 1 folds, scored on the held-out one."""
    y = frame["churned"].to_numpy(float)
    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(frame, y))
    preds: dict[str, list[pd.DataFrame]] = {k: [] for k in candidates}
    rows = []
    total = len(folds) * len(candidates)
    for f, (tr, te) in enumerate(folds):
        for i, (name, cand) in enumerate(candidates.items()):
            if progress:
                progress(f"churn fold {f + 1}: {name}", f * len(candidates) + i, total)
            p = clone(cand).fit(frame.iloc[tr], y[tr]).predict(frame.iloc[te])
            preds[name].append(
                pd.DataFrame(
                    {"origin": f, "customer_id": frame["customer_id"].iloc[te], "y": y[te], "p": p}
                )
            )
            rows.append(
                {"candidate": name, "origin": f, "n_train": len(tr)} | churn_metrics(y[te], p)
            )
    joined = {k: pd.concat(v, ignore_index=True) for k, v in preds.items()}
    return Backtest(
        task="churn",
        horizon_days=0,
        origins=list(range(n_splits)),  # type: ignore[arg-type,unused-ignore]  # folds as origins
        per_origin=pd.DataFrame(rows),
        summary=aggregate("churn", joined, n_boot, seed),
        predictions=joined,
        key=content_key(f"cv{n_splits}-{seed}", (frame["customer_id"], y)),
        learned={k: bool(c.learned) for k, c in candidates.items()},
    )


def train_contractual(
    data: Dataset,
    config: Config,
    *,
    candidates: dict[str, Scorer] | None = None,
    register: bool = True,
    log: bool = True,
    progress: Progress | None = None,
) -> TaskResult:
    """Cross-validate the candidates, fit the best on every customer, log and register it."""
    from customer_ml.train.results import TaskResult

    frame = _frame(data)
    cands = dict(candidates or contractual_candidates(config.seed))
    client = open_store(config.paths.mlruns) if log else None
    champion = (
        add_champion(client, model_name(config.project_name, "churn"), cands, contractual=True)
        if register
        else None
    )
    bt = cross_validate(
        frame, cands, n_boot=config.backtest.n_boot, seed=config.seed, progress=progress
    )
    chosen = next(c for c in bt.ranking() if c != "champion")
    scorer = clone(cands[chosen]).fit(frame, frame["churned"].to_numpy(float))
    model = ScorerModel(scorer, task="churn", horizon_days=0, schema={"contractual": True})
    result = TaskResult("churn", config.as_of or dt.date.today(), bt, chosen, model)
    if client is not None:
        publish(
            result,
            data=data,
            config=config,
            train=frame,
            client=client,
            spec=scorer.spec(),
            champion=champion,
            register=register,
        )
    return result
