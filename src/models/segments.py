"""Customer segments: one scikit-learn Pipeline (impute, log or quantile transform, scale,
KMeans / MiniBatchKMeans / Gaussian mixture) over behaviour columns of a snapshot, readable
names from each segment's profile, and per-customer explanations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, QuantileTransformer, StandardScaler

__all__ = [
    "KEY_FEATURES",
    "explain_segments",
    "make_segmenter",
    "name_segments",
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
SHARE_PREFIXES = ("category_share_", "channel_share_")
LARGE = 50_000  # MiniBatchKMeans above this many customers


def segment_columns(snapshot: pd.DataFrame) -> list[str]:
    """The key behaviour columns present, plus category and channel shares."""
    cols = [c for c in KEY_FEATURES if c in snapshot.columns]
    cols += [c for c in snapshot.columns if c.startswith(SHARE_PREFIXES)]
    if not cols:
        raise ValueError("the snapshot has none of the segmentation columns")
    return cols


def _select(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return X[columns].to_numpy(dtype=float, na_value=np.nan)


def _log1p(v: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(v, 0, None))


def make_segmenter(
    columns: list[str], *, k: int, algorithm: str, transform: str, n_rows: int, seed: int = 0
) -> Pipeline:
    """select -> impute (median) -> log1p or normal-quantile -> scale -> cluster."""
    if algorithm == "gmm":
        model: Any = GaussianMixture(k, covariance_type="diag", n_init=2, random_state=seed)
    elif n_rows > LARGE:
        model = MiniBatchKMeans(k, n_init=3, batch_size=4096, random_state=seed)
    else:
        model = KMeans(k, n_init=4, random_state=seed)
    shape = (
        FunctionTransformer(_log1p)
        if transform == "log"
        else QuantileTransformer(output_distribution="normal", n_quantiles=500, random_state=seed)
    )
    return Pipeline(
        [
            ("select", FunctionTransformer(_select, kw_args={"columns": list(columns)})),
            ("impute", SimpleImputer(strategy="median")),
            ("shape", shape),
            ("scale", StandardScaler()),
            ("cluster", model),
        ]
    )


def segment_quality(
    pipe: Pipeline,
    X: pd.DataFrame,
    labels: np.ndarray,
    *,
    n_boot: int = 4,
    sample: int = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """Silhouette (on a sample), bootstrap stability (mean adjusted Rand index between the
    fitted assignment and refits on bootstrap samples, on the same sample) and the smallest
    segment's share."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), min(sample, len(X)), replace=False)
    Z = pipe[:-1].transform(X.iloc[idx])
    sil = float(silhouette_score(Z, labels[idx])) if len(np.unique(labels[idx])) > 1 else -1.0
    aris = []
    for b in range(n_boot):
        boot = rng.choice(len(X), len(X), replace=True)
        refit = _clone(pipe, seed=seed + b + 1).fit(X.iloc[boot])
        aris.append(adjusted_rand_score(labels[idx], refit.predict(X.iloc[idx])))
    shares = np.bincount(labels, minlength=int(labels.max()) + 1) / len(labels)
    return {
        "silhouette": sil,
        "stability": float(np.mean(aris)) if aris else float("nan"),
        "min_share": float(shares.min()),
    }


def _clone(pipe: Pipeline, *, seed: int) -> Pipeline:
    from sklearn.base import clone

    out = clone(pipe)
    out.set_params(cluster__random_state=seed)
    return out


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


def _words(value: float, lo: float, hi: float, words: tuple[str, str]) -> str:
    return words[0] if value <= lo else words[1] if value >= hi else ""


def name_segments(snapshot: pd.DataFrame, labels: np.ndarray) -> dict[int, str]:
    """A readable, unique name per segment from its medians relative to the population's
    terciles: recency (recent / lapsed), frequency (one-time / frequent), spend (low / high)."""
    s = snapshot.assign(segment=labels)
    med = s.groupby("segment").median(numeric_only=True)
    q = s.quantile([1 / 3, 2 / 3], numeric_only=True)
    names: dict[int, str] = {}
    for seg, row in med.iterrows():
        parts = []
        if "recency_days" in row:
            lo, hi = q["recency_days"]
            parts.append(_words(row["recency_days"], lo, hi, ("recent", "lapsed")))
        if "n_purchases" in row:
            lo, hi = q["n_purchases"]
            freq = (
                "one-time"
                if row["n_purchases"] <= 1
                else _words(row["n_purchases"], lo, hi, ("occasional", "frequent"))
            )
            parts.append(freq)
        if "monetary_mean" in row:
            lo, hi = q["monetary_mean"]
            parts.append(_words(row["monetary_mean"], lo, hi, ("low spend", "high spend")))
        names[int(seg)] = ", ".join(p for p in parts if p) or "average"
    # segments that share a name are told apart by their most distinctive share column
    by_name: dict[str, list[int]] = {}
    for seg, name in names.items():
        by_name.setdefault(name, []).append(seg)
    shares = [c for c in med.columns if c.startswith(SHARE_PREFIXES)]
    for name, segs in by_name.items():
        if len(segs) < 2:
            continue
        for i, seg in enumerate(segs):
            tag = ""
            if shares:
                lift = med.loc[seg, shares] - s[shares].median()
                top = str(lift.idxmax())
                tag = "mostly " + top.split("_share_", 1)[1].replace("_", " ")
            names[seg] = f"{name}, {tag}" if tag else f"{name} #{i + 1}"
        if len({names[x] for x in segs}) < len(segs):
            for i, seg in enumerate(segs):
                names[seg] = f"{names[seg]} #{i + 1}"
    return names


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
