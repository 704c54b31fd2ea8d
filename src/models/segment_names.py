"""Readable segment names from what sets each segment apart.

Each segment's mean on the clustering scale (log behaviour, shrunk shares, standardised over
the population) says how far it sits from the average customer, in standard deviations, on
each feature. The name lists the words of the features it departs from most ("recent",
"frequent", "high spend", "mostly toys", "via app"), in a fixed reading order; segments
that would share a name take further words until they differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_ml.models.segment_features import SHARE_PREFIXES, SegmentFeatures

__all__ = ["NAMED_FEATURES", "name_segments"]

# feature -> (word below the population, word above it); None: not worth a word
NAMED_FEATURES: dict[str, tuple[str | None, str | None]] = {
    "recency_days": ("recent", "lapsed"),
    "n_purchases": ("infrequent", "frequent"),
    "ipt_mean_days": ("short gaps", "long gaps"),
    "monetary_mean": ("low spend", "high spend"),
}
MIN_Z = 0.4  # a departure under this many standard deviations is not named
MAX_WORDS = 3


def _word(col: str, z: float, one_time: bool) -> str | None:
    if col in NAMED_FEATURES:
        lo, hi = NAMED_FEATURES[col]
        if col == "n_purchases" and z < 0 and one_time:
            return "one-time"
        return lo if z < 0 else hi
    if z <= 0:
        return None  # "buys less of X than most" does not describe a segment
    kind, value = col.split("_share_", 1)
    value = value.replace("_", " ")
    return f"mostly {value}" if kind == "category" else f"via {value}"


def _centres(snapshot: pd.DataFrame, labels: np.ndarray, columns: list[str]) -> pd.DataFrame:
    Z = SegmentFeatures(columns).fit(snapshot).transform(snapshot)
    Z = pd.DataFrame(Z, columns=columns).fillna(pd.DataFrame(Z, columns=columns).median())
    sd = Z.std(ddof=0).replace(0, 1)
    return ((Z - Z.mean()) / sd).groupby(labels).mean()


def name_segments(
    snapshot: pd.DataFrame, labels: np.ndarray, *, columns: list[str] | None = None
) -> dict[int, str]:
    """A readable name per segment, unique where the segments can be told apart.

    Parameters
    ----------
    snapshot : DataFrame
        The customers that were segmented (one row each, in the order of `labels`).
    labels : array of int
        Segment of each customer.
    columns : list of str, optional
        Features to name from (default: those of `NAMED_FEATURES` present, and the shares).
    """
    X = snapshot.reset_index(drop=True)
    if columns is None:
        columns = [c for c in NAMED_FEATURES if c in X]
        columns += [c for c in X.columns if c.startswith(SHARE_PREFIXES)]
    columns = [c for c in columns if c in NAMED_FEATURES or c.startswith(SHARE_PREFIXES)]
    if not columns:
        return {int(s): f"segment {s}" for s in np.unique(labels)}
    centres = _centres(X, labels, columns)
    median_n = (
        X["n_purchases"].groupby(labels).median()
        if "n_purchases" in X
        else pd.Series(np.inf, index=centres.index)
    )
    order = {c: i for i, c in enumerate(columns)}
    ranked: dict[int, list[tuple[str, str]]] = {}  # segment -> (column, word), strongest first
    for seg, row in centres.iterrows():
        words: list[tuple[str, str]] = []
        for col in row.abs().sort_values(ascending=False).index:
            w = _word(str(col), float(row[col]), bool(median_n[seg] <= 1))
            if {str(col), *(c for c, _ in words)} >= {"n_purchases", "ipt_mean_days"}:
                continue  # purchases and gaps say the same thing: one word for both
            if w is not None:
                words.append((str(col), w))
        ranked[int(seg)] = words
    strength = {int(s): centres.loc[s].abs() for s in centres.index}

    def name(seg: int, n: int) -> str:
        picked = [cw for cw in ranked[seg][:n] if strength[seg][cw[0]] >= MIN_Z or n > MAX_WORDS]
        if not picked:
            return "average"
        picked.sort(key=lambda cw: order[cw[0]])
        return ", ".join(w for _, w in picked)

    n_words = {s: MAX_WORDS for s in ranked}
    names = {s: name(s, n_words[s]) for s in ranked}
    for _ in range(len(columns)):
        clash = [s for s in ranked if list(names.values()).count(names[s]) > 1]
        if not clash:
            break
        for s in clash:
            n_words[s] += 1
            names[s] = name(s, n_words[s])
    dup = {n for n in names.values() if list(names.values()).count(n) > 1}
    seen: dict[str, int] = {}
    for s in sorted(names):  # the last resort: numbers, where words cannot tell them apart
        if names[s] in dup:
            seen[names[s]] = seen.get(names[s], 0) + 1
            names[s] = f"{names[s]} #{seen[names[s]]}"
    return names
