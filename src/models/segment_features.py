"""The segmentation's view of a customer: behaviour on a log (or normal-quantile) scale and
category / channel shares shrunk towards the population's mix by how little we have seen.

Two choices matter for the geometry. A one-purchase customer has no inter-purchase time; it
is at least the time since that purchase, so it is imputed with ``recency_days`` (the median
would make a one-time buyer look like a regular). And a share from one or two purchases is
mostly noise (one purchase is a one-hot vector), so shares are shrunk towards the population
mean: ``(share * n + a * prior) / (n + a)`` with ``n`` the customer's purchases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import QuantileTransformer
from sklearn.utils.validation import check_is_fitted

__all__ = ["SHARE_PREFIXES", "SegmentFeatures"]

SHARE_PREFIXES = ("category_share_", "channel_share_")


class SegmentFeatures(TransformerMixin, BaseEstimator):
    """Select `columns` from a frame and put them on the clustering scale.

    Parameters
    ----------
    columns : list of str
        Behaviour columns (non-negative amounts, counts, days) and share columns (names
        starting with ``category_share_`` / ``channel_share_``), in output order.
    shape : {"log", "quantile"}
        ``log1p`` of the behaviour columns, or a normal-quantile transform fit on them.
    smoothing : float
        Pseudo-purchases ``a`` of the population mix added to each customer's shares.
    seed : int
        Seed of the quantile transform's subsample.
    """

    def __init__(
        self, columns: list[str], shape: str = "log", smoothing: float = 4.0, seed: int = 0
    ) -> None:
        self.columns = columns
        self.shape = shape
        self.smoothing = smoothing
        self.seed = seed

    def _split(self) -> tuple[list[int], list[int]]:
        share = [i for i, c in enumerate(self.columns) if c.startswith(SHARE_PREFIXES)]
        return [i for i in range(len(self.columns)) if i not in share], share

    def _behaviour(self, X: pd.DataFrame, cols: list[str]) -> np.ndarray:
        B = X[cols].to_numpy(dtype=float, na_value=np.nan, copy=True)
        if "ipt_mean_days" in cols and "recency_days" in cols:
            j, r = cols.index("ipt_mean_days"), cols.index("recency_days")
            gap = np.isnan(B[:, j])
            B[gap, j] = B[gap, r]  # one purchase so far: the gap is at least the time since
        return np.clip(B, 0, None)

    def fit(self, X: pd.DataFrame, y: object = None) -> SegmentFeatures:
        """Learn the population's share mix (and the quantile transform)."""
        if self.shape not in ("log", "quantile"):
            raise ValueError(f"shape must be 'log' or 'quantile', not {self.shape!r}")
        beh, share = self._split()
        S = X[[self.columns[i] for i in share]].to_numpy(dtype=float, na_value=np.nan)
        self.prior_ = np.nan_to_num(np.nanmean(S, axis=0)) if share else np.zeros(0)
        self.quantile_: QuantileTransformer | None = None
        if self.shape == "quantile" and beh:
            B = self._behaviour(X, [self.columns[i] for i in beh])
            n_q = int(min(500, max(10, len(X))))
            self.quantile_ = QuantileTransformer(
                output_distribution="normal", n_quantiles=n_q, random_state=self.seed
            ).fit(B)
        self.n_features_in_ = len(self.columns)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The clustering features, one column per entry of `columns`, NaN where unknown."""
        check_is_fitted(self, "prior_")
        beh, share = self._split()
        out = np.empty((len(X), len(self.columns)))
        if beh:
            B = self._behaviour(X, [self.columns[i] for i in beh])
            out[:, beh] = self.quantile_.transform(B) if self.quantile_ else np.log1p(B)
        if share:
            S = X[[self.columns[i] for i in share]].to_numpy(dtype=float, na_value=np.nan)
            S = np.where(np.isnan(S), self.prior_, S)
            n = (
                X["n_purchases"].to_numpy(dtype=float, na_value=0.0)[:, None]
                if "n_purchases" in X and self.smoothing > 0
                else np.full((len(X), 1), np.inf)
            )
            a = self.smoothing
            out[:, share] = np.where(np.isinf(n), S, (S * n + a * self.prior_) / (n + a))
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.columns, dtype=object)
