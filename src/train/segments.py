"""Choosing the segmentation: the finest one whose every segment comes back.

Optuna walks the (algorithm, transform) grid; for each, k goes up from the bottom of the
range while the solution is reproducible (every segment's bootstrap Jaccard >= `min_jaccard`, 0.85,
overall bootstrap ARI >= `min_stability`, no segment under `min_share`) and stops at the first
k that is not. The trial's value is ``k + jaccard_min`` of its last reproducible k, so the
finest reproducible segmentation wins and ties go to the more reproducible one.

Why not (silhouette + stability) / 2: both reward a coarse partition (merging two real
segments is as stable as keeping them apart, and silhouette on behaviour data is flat in k),
so that objective prefers 3 segments however many there are. Stability is the right judge of
whether a segment is real, but as a floor, not as something to maximise; and it is measured
per segment, since one segment split in two barely moves a global ARI. Walking up and
stopping at the first failure keeps the k before the first split of a continuum (a larger k
can come back stable when k-means settles on another tiling of that continuum).

The search is fit on a sample (`fit_sample` rows, 10,000 by default) and every customer is
assigned by the fitted pipeline, so a million customers cost what `fit_sample` do plus one
predict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from customer_ml.models.segments import (
    make_segmenter,
    name_segments,
    segment_columns,
    segment_profile,
    segment_quality,
)

__all__ = ["Segmentation", "choose_segments", "score_params"]

Progress = Callable[[str, int, int], None]
GRID = {"algorithm": ["kmeans", "gmm"], "transform": ["log", "quantile"]}


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


@dataclass(frozen=True)
class Rules:
    """What makes a solution reproducible (see the module docstring)."""

    min_share: float = 0.02
    min_jaccard: float = 0.85
    min_stability: float = 0.8

    def ok(self, q: dict[str, float], k: int, n_labels: int) -> bool:
        return (
            n_labels == k
            and q["min_share"] >= self.min_share
            and q["jaccard_min"] >= self.min_jaccard
            and q["stability"] >= self.min_stability
        )

    def value(self, q: dict[str, float], k: int, ok: bool) -> float:
        return k + q["jaccard_min"] if ok else q["jaccard_min"] - 1.0


def _sample(X: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    if len(X) <= n:
        return X
    idx = np.sort(np.random.default_rng(seed).choice(len(X), n, replace=False))
    return X.iloc[idx].reset_index(drop=True)


def _fit(
    S: pd.DataFrame, cols: list[str], params: dict[str, object], seed: int
) -> tuple[Pipeline, np.ndarray]:
    pipe = make_segmenter(
        cols,
        k=int(str(params["k"])),
        algorithm=str(params["algorithm"]),
        transform=str(params["transform"]),
        n_rows=len(S),
        seed=seed,
    ).fit(S)
    return pipe, np.asarray(pipe.predict(S))


def _judge(
    S: pd.DataFrame, cols: list[str], params: dict[str, object], rules: Rules, seed: int
) -> tuple[Pipeline, dict[str, float], bool, float]:
    """Fit one (k, algorithm, transform) on `S`: the pipeline, its quality, whether it is
    reproducible, and its selection value."""
    pipe, labels = _fit(S, cols, params, seed)
    q = segment_quality(pipe, S, labels, seed=seed)
    k = int(str(params["k"]))
    ok = rules.ok(q, k, len(np.unique(labels)))
    return pipe, q, ok, rules.value(q, k, ok)


def _walk(
    S: pd.DataFrame,
    cols: list[str],
    algorithm: str,
    transform: str,
    *,
    k_range: tuple[int, int],
    rules: Rules,
    seed: int,
) -> tuple[float, dict[str, object], dict[str, float], Pipeline, list[str]]:
    """Up the k range while reproducible; the last reproducible k (or the best tried)."""
    best: tuple[float, dict[str, object], dict[str, float], Pipeline] | None = None
    log, seen_ok, misses = [], False, 0
    for k in range(k_range[0], k_range[1] + 1):
        params: dict[str, object] = {"k": k, "algorithm": algorithm, "transform": transform}
        pipe, q, ok, v = _judge(S, cols, params, rules, seed)
        log.append(
            f"k={k}: jaccard_min {q['jaccard_min']:.2f}, ARI {q['stability']:.2f}, "
            f"min share {q['min_share']:.3f}{'' if ok else ' (no)'}"
        )
        if best is None or v > best[0]:
            best = (v, params, q, pipe)
        seen_ok |= ok
        misses = 0 if ok else misses + 1
        if (seen_ok and not ok) or misses == 3:
            break  # the first failure after a success, or nothing reproducible in sight
    assert best is not None
    return (*best, log)


def choose_segments(
    snapshot: pd.DataFrame,
    *,
    k_range: tuple[int, int] = (3, 10),
    n_trials: int = 20,
    timeout_s: float = 60.0,
    min_share: float = 0.02,
    seed: int = 0,
    progress: Progress | None = None,
    fit_sample: int = 10_000,
    min_jaccard: float = 0.85,
) -> Segmentation:
    """The finest reproducible segmentation over k in `k_range`, algorithm and transform.

    Fit on a sample of `fit_sample` customers; every customer of `snapshot` is assigned by
    the fitted pipeline. `n_trials` caps the (algorithm, transform) pairs tried (4 at most),
    `timeout_s` stops starting new ones. Raises ValueError when nothing tried is reproducible
    enough to keep (every solution has a segment under `min_share`).
    """
    cols = segment_columns(snapshot)
    X = snapshot.reset_index(drop=True)
    S = _sample(X, fit_sample, seed)
    rules = Rules(min_share=min_share, min_jaccard=min_jaccard)
    kept: dict[int, tuple[dict[str, object], dict[str, float], Pipeline]] = {}
    n_configs = min(n_trials, len(GRID["algorithm"]) * len(GRID["transform"]))

    def objective(trial: optuna.Trial) -> float:
        algorithm = str(trial.suggest_categorical("algorithm", GRID["algorithm"]))
        transform = str(trial.suggest_categorical("transform", GRID["transform"]))
        v, params, q, pipe, log = _walk(
            S, cols, algorithm, transform, k_range=k_range, rules=rules, seed=seed
        )
        kept[trial.number] = (params, q, pipe)
        trial.set_user_attr("k", params["k"])
        trial.set_user_attr("walk", "; ".join(log))
        for key, val in q.items():
            trial.set_user_attr(key, val)
        return v

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.GridSampler(GRID, seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress:
            progress(f"segments: trial {trial.number + 1}", trial.number + 1, n_configs)

    # one thread per fit: on a few thousand rows, OpenMP threads cost more than they bring
    # (a 5,000-row KMeans takes 0.2 s on one thread and seconds on two busy cores)
    with threadpool_limits(limits=1):
        study.optimize(objective, n_trials=n_configs, timeout=timeout_s, callbacks=[report])
    best = study.best_trial
    params, q, pipe = kept[best.number]
    if q["min_share"] < min_share:
        raise ValueError(f"every segmentation tried has a segment under {min_share:.0%}")
    labels = np.asarray(pipe.predict(X))
    return Segmentation(
        pipeline=pipe,
        columns=cols,
        labels=labels,
        names=name_segments(X, labels),
        profile=segment_profile(X, labels),
        quality={k: float(v) for k, v in q.items()} | {"score": float(best.value or 0.0)},
        params=params,
        trials=study.trials_dataframe(attrs=("number", "value", "params", "user_attrs")),
    )


def score_params(
    snapshot: pd.DataFrame,
    params: dict[str, object],
    *,
    min_share: float = 0.02,
    seed: int = 0,
    fit_sample: int = 10_000,
) -> float:
    """The selection objective of given (k, algorithm, transform) on a snapshot: ``k +
    jaccard_min`` when reproducible, ``jaccard_min - 1`` when not; how a registered champion
    is re-scored on new data."""
    X = snapshot.reset_index(drop=True)
    S = _sample(X, fit_sample, seed)
    with threadpool_limits(limits=1):  # as in the search
        return _judge(S, segment_columns(S), params, Rules(min_share=min_share), seed)[3]
