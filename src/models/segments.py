"""Customer segments: one scikit-learn Pipeline (segment features, impute, scale, KMeans /
MiniBatchKMeans / Gaussian mixture) over behaviour columns of a snapshot, how reproducible
its segments are, and per-customer explanations. Names come from `segment_names`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from customer_ml.models.segment_features import SHARE_PREFIXES, SegmentFeatures
from customer_ml.models.segment_names import name_segments

__all__ = [
    "KEY_FEATURES",
    "SEGMENT_FEATURES",
    "explain_segments",
    "make_segmenter",
    "name_segments",
    "pipeline_columns",
    "segment_columns",
    "segment_profile",
    "segment_quality",
]

KEY_FEATURES = (
    "recency_days",
    "n_purchases",
    "monetary_mean",
    "monetary_total",
    "T",
    "ipt_mean_days",
    "purchases_365d",
    "spend_365d",
)
SEGMENT_FEATURES = ("recency_days", "monetary_mean", "ipt_mean_days")
LARGE = 50_000  # MiniBatchKMeans above this many customers


def segment_columns(snapshot: pd.DataFrame) -> list[str]:
    """The clustering columns present: recency, purchases, order value and inter-purchase
    time, plus category and channel shares. Totals and windowed counts are left out (they
    repeat purchases x order value and would weigh that direction two or three times), and
    so is tenure ``T`` (when a customer arrived, not how they behave)."""
    cols = [c for c in SEGMENT_FEATURES if c in snapshot.columns]
    cols += [c for c in snapshot.columns if c.startswith(SHARE_PREFIXES)]
    if not cols:
        raise ValueError("the snapshot has none of the segmentation columns")
    return cols


def _select(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """First step of pipelines registered before SegmentFeatures (kept so they load)."""
    return X[columns].to_numpy(dtype=float, na_value=np.nan)


def _log1p(v: np.ndarray) -> np.ndarray:
    """Shape step of pipelines registered before SegmentFeatures (kept so they load)."""
    return np.log1p(np.clip(v, 0, None))


def make_segmenter(
    columns: list[str],
    *,
    k: int,
    algorithm: str,
    transform: str,
    n_rows: int,
    seed: int = 0,
    smoothing: float = 4.0,
) -> Pipeline:
    """features (log1p or normal-quantile, shrunk shares) -> impute (median) -> scale ->
    KMeans (MiniBatchKMeans above `LARGE` rows) or a diagonal Gaussian mixture."""
    if algorithm == "gmm":
        model: Any = GaussianMixture(k, covariance_type="diag", n_init=2, random_state=seed)
    elif n_rows > LARGE:
        model = MiniBatchKMeans(k, n_init=3, batch_size=4096, random_state=seed)
    else:
        model = KMeans(k, n_init=4, random_state=seed)
    return Pipeline(
        [
            ("features", SegmentFeatures(list(columns), transform, smoothing, seed)),
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("cluster", model),
        ]
    )


def pipeline_columns(pipe: Pipeline) -> list[str]:
    """The input columns of a segmentation pipeline (this one or one registered before)."""
    first = pipe.steps[0][1]
    cols = first.columns if isinstance(first, SegmentFeatures) else first.kw_args["columns"]
    return list(cols)


def _jaccard(ref: np.ndarray, other: np.ndarray, k: int) -> np.ndarray:
    """Per reference cluster: the best Jaccard overlap with any cluster of `other`."""
    m = int(max(ref.max(), other.max(), k - 1)) + 1
    both = np.zeros((m, m))
    np.add.at(both, (ref, other), 1)
    union = both.sum(1)[:, None] + both.sum(0)[None, :] - both
    jac = np.divide(both, union, out=np.zeros_like(both), where=union > 0)
    return jac.max(axis=1)[:k]


def segment_quality(
    pipe: Pipeline,
    X: pd.DataFrame,
    labels: np.ndarray,
    *,
    n_boot: int = 5,
    sample: int = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """How real the fitted segments are, on the rows `X` they were fit on (`labels`).

    Returns
    -------
    dict
        silhouette (on `sample` rows); stability, the mean adjusted Rand index between the
        assignment and refits on `n_boot` bootstrap samples (on the same rows); jaccard_min,
        the least reproducible segment's mean best Jaccard overlap with a refit's segments
        (Hennig's clusterwise stability: 0.85 and above is a highly stable segment);
        min_share, the smallest segment's share.
    """
    rng = np.random.default_rng(seed)
    k = int(labels.max()) + 1
    idx = rng.choice(len(X), min(sample, len(X)), replace=False)
    Z = pipe[:-1].transform(X.iloc[idx])
    ref = labels[idx]
    sil = float(silhouette_score(Z, ref)) if len(np.unique(ref)) > 1 else -1.0
    aris, jacs = [], []
    for b in range(n_boot):
        boot = rng.choice(len(X), len(X), replace=True)
        refit = clone(pipe).set_params(cluster__random_state=seed + b + 1).fit(X.iloc[boot])
        pred = np.asarray(refit.predict(X.iloc[idx]))
        aris.append(adjusted_rand_score(ref, pred))
        jacs.append(_jaccard(ref, pred, k))
    shares = np.bincount(labels, minlength=k) / len(labels)
    return {
        "silhouette": sil,
        "stability": float(np.mean(aris)) if aris else float("nan"),
        "jaccard_min": float(np.mean(jacs, axis=0).min()) if jacs else float("nan"),
        "min_share": float(shares.min()),
    }


def segment_profile(snapshot: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per segment: customers, share, revenue share, mean and median of the key features."""
    s = snapshot.assign(segment=labels)
    cols = [c for c in KEY_FEATURES if c in s.columns]
    g = s.groupby("segment")
    out = pd.DataFrame({"customers": g.size(), "share": g.size() / len(s)})
    if "monetary_total" in s:
        total = s["monetary_total"].clip(lower=0).sum()
        out["revenue_share"] = g["monetary_total"].apply(lambda v: v.clip(lower=0).sum()) / total
    for c in cols:
        out[f"{c}_mean"] = g[c].mean()
        out[f"{c}_median"] = g[c].median()
    return out


def explain_segments(pipe: Pipeline, X: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per customer and feature: how much the feature favours the assigned segment over the
    next nearest, (z - c_next)^2 - (z - c_own)^2 in standardised units (sums to the gap
    between the two squared distances; positive = pulls towards the own segment)."""
    Z = pipe[:-1].transform(X)
    model = pipe[-1]
    centres = model.cluster_centers_ if hasattr(model, "cluster_centers_") else model.means_
    d = ((Z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    own = pipe.predict(X)
    d_other = d.copy()
    d_other[np.arange(len(Z)), own] = np.inf
    nxt = d_other.argmin(axis=1)
    contrib = (Z - centres[nxt]) ** 2 - (Z - centres[own]) ** 2
    return pd.DataFrame(contrib, columns=columns, index=X.index)
