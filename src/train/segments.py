"""Choosing the segmentation: Optuna over k, algorithm and transform, scored on silhouette
(sampled) and bootstrap stability, degenerate solutions (a segment under `min_share`)
rejected; the best is refit, named and profiled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_ml.models.segments import (
    make_segmenter,
    name_segments,
    segment_columns,
    segment_profile,
    segment_quality,
)

__all__ = ["Segmentation", "choose_segments"]

Progress = Callable[[str, int, int], None]


@dataclass
class Segmentation:
    pipeline: Pipeline
    columns: list[str]
    labels: np.ndarray
    names: dict[int, str]
    profile: pd.DataFrame
    quality: dict[str, float]
    params: dict[str, object]
    trials: pd.DataFrame = field(repr=False)


def choose_segments(
    snapshot: pd.DataFrame,
    *,
    k_range: tuple[int, int] = (3, 10),
    n_trials: int = 20,
    timeout_s: float = 60.0,
    min_share: float = 0.02,
    seed: int = 0,
    progress: Progress | None = None,
) -> Segmentation:
    """Search (k, algorithm, transform) maximising (silhouette + stability) / 2."""
    cols = segment_columns(snapshot)
    X = snapshot.reset_index(drop=True)

    def fit(k: int, algorithm: str, transform: str) -> tuple[Pipeline, np.ndarray]:
        pipe = make_segmenter(
            cols, k=k, algorithm=algorithm, transform=transform, n_rows=len(X), seed=seed
        )
        pipe.fit(X)
        return pipe, np.asarray(pipe.predict(X))

    def objective(trial: optuna.Trial) -> float:
        k = trial.suggest_int("k", *k_range)
        algorithm = trial.suggest_categorical("algorithm", ["kmeans", "gmm"])
        transform = trial.suggest_categorical("transform", ["log", "quantile"])
        pipe, labels = fit(k, algorithm, transform)
        q = segment_quality(pipe, X, labels, seed=seed)
        for key, v in q.items():
            trial.set_user_attr(key, v)
        if q["min_share"] < min_share or len(np.unique(labels)) < k:
            return -1.0  # degenerate: a segment too small (or empty)
        return (q["silhouette"] + q["stability"]) / 2

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress:
            progress(f"segments: trial {trial.number + 1}", trial.number + 1, n_trials)

    study.optimize(objective, n_trials=n_trials, timeout=timeout_s, callbacks=[report])
    best = study.best_trial
    if best.value is None or best.value <= -1.0:
        raise ValueError(f"every segmentation tried has a segment under {min_share:.0%}")
    pipe, labels = fit(best.params["k"], best.params["algorithm"], best.params["transform"])
    return Segmentation(
        pipeline=pipe,
        columns=cols,
        labels=labels,
        names=name_segments(X, labels),
        profile=segment_profile(X, labels),
        quality={k: float(v) for k, v in best.user_attrs.items()} | {"score": float(best.value)},
        params=dict(best.params),
        trials=study.trials_dataframe(attrs=("number", "value", "params", "user_attrs")),
    )


def score_params(
    snapshot: pd.DataFrame, params: dict[str, object], *, min_share: float = 0.02, seed: int = 0
) -> float:
    """The selection objective of given (k, algorithm, transform) on a snapshot (-1 when
    degenerate): how a registered champion is re-scored on new data."""
    X = snapshot.reset_index(drop=True)
    cols = segment_columns(X)
    pipe = make_segmenter(
        cols,
        k=int(str(params["k"])),
        algorithm=str(params["algorithm"]),
        transform=str(params["transform"]),
        n_rows=len(X),
        seed=seed,
    ).fit(X)
    labels = np.asarray(pipe.predict(X))
    q = segment_quality(pipe, X, labels, seed=seed)
    if q["min_share"] < min_share:
        return -1.0
    return (q["silhouette"] + q["stability"]) / 2
