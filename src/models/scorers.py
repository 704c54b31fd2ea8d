"""Churn and LTV scorers: small estimators over snapshot frames, all with one interface.

``fit(X, y)`` on a labelled frame (snapshot columns, one row per customer and cutoff),
``predict(X)`` -> churn probability or predicted value, ``contributions(X)`` -> one column
per input plus ``base`` that add up to ``raw(X)`` (log-odds for logistic models, the forecast
itself for column and rate models). The baselines live here; learned models add to SCORERS.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

__all__ = ["SCORERS", "ColumnScorer", "LogisticScorer", "RateScorer", "Scorer"]


class Scorer(BaseEstimator):
    """Base class: predict = P(churn) for churn scorers, the forecast value for LTV ones."""

    features_in_: list[str]
    needs_labels: ClassVar[bool] = True  # False: `fit` reads no labels (a forecast column)
    learned: ClassVar[bool] = False  # True: a learned model; False: a baseline (a challenger)

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        """The additive output that `contributions` decomposes."""
        return np.asarray(self.contributions(X).sum(axis=1), float)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError

    def predict_explain(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """`predict(X)` and `contributions(X)` at once (scorers override it to share work)."""
        return np.asarray(self.predict(X), float), self.contributions(X)

    def spec(self) -> dict[str, Any]:
        """What rebuilds this scorer unfitted: class name and parameters (JSON-safe)."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}
        return {"class": type(self).__name__, "params": params}

    def _columns(self, X: pd.DataFrame, wanted: tuple[str, ...]) -> list[str]:
        present = [c for c in wanted if c in X.columns]
        if not present:
            raise ValueError(f"{type(self).__name__}: none of the columns {list(wanted)} present")
        return present


class LogisticScorer(Scorer):
    """Churn: logistic regression on log1p of a few snapshot columns, standardised.

    Missing values take the training median; scaling is learned in `fit` only.
    """

    def __init__(self, features: tuple[str, ...] = ("recency_days",), C: float = 1.0) -> None:
        self.features = features
        self.C = C

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        v = np.log1p(X[self.features_in_].to_numpy(float).clip(min=0))
        v = np.where(np.isnan(v), self.median_, v)
        return (v - self.mean_) / self.scale_

    def fit(self, X: pd.DataFrame, y: Any) -> LogisticScorer:
        self.features_in_ = self._columns(X, tuple(self.features))
        v = np.log1p(X[self.features_in_].to_numpy(float).clip(min=0))
        self.median_ = np.nan_to_num(np.nanmedian(v, axis=0))
        v = np.where(np.isnan(v), self.median_, v)
        self.mean_, self.scale_ = v.mean(axis=0), v.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        self.model_ = LogisticRegression(C=self.C, max_iter=1000)
        self.model_.fit((v - self.mean_) / self.scale_, np.asarray(y, int))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict_proba(self._design(X))[:, 1])

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(special.logit(self.predict(X)))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "model_")
        out = pd.DataFrame(
            self._design(X) * self.model_.coef_[0], columns=self.features_in_, index=X.index
        )
        out["base"] = float(self.model_.intercept_[0])
        return out


class ColumnScorer(Scorer):
    """A precomputed forecast column (e.g. a BTYD output) used as the score.

    ``complement=True`` scores 1 - column (P(any purchase) -> P(churn)).
    """

    needs_labels: ClassVar[bool] = False

    def __init__(self, column: str = "bgnbd_p_any", complement: bool = False) -> None:
        self.column = column
        self.complement = complement

    def fit(self, X: pd.DataFrame, y: Any = None) -> ColumnScorer:
        self.features_in_ = self._columns(X, (self.column,))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "features_in_")
        v = X[self.column].to_numpy(float)
        return 1.0 - v if self.complement else v

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame({self.column: self.predict(X)}, index=X.index)
        out["base"] = 0.0
        return out

    def drivers(self, X: pd.DataFrame) -> pd.DataFrame:
        """What drives a BTYD forecast, per customer: the BTYD summary (repeat purchases,
        days from first to last purchase, days since the first) and the days since the last
        purchase against the usual gap. A BTYD score is a closed-form function of these, so
        they are its reasons (not additive terms)."""
        cols = [c for c in DRIVERS if c in X.columns]
        return X[cols].copy()


DRIVERS = ("frequency", "recency", "T", "recency_days", "gap_ratio")


class RateScorer(Scorer):
    """LTV: the customer's historical rate carried forward, total x horizon / max(T + 1,
    horizon) (a customer younger than the horizon is forecast their total so far)."""

    needs_labels: ClassVar[bool] = False

    def __init__(self, column: str = "monetary_total", horizon_days: int = 90) -> None:
        self.column = column
        self.horizon_days = horizon_days

    def fit(self, X: pd.DataFrame, y: Any = None) -> RateScorer:
        self.features_in_ = self._columns(X, (self.column, "T"))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "features_in_")
        days = np.maximum(X["T"].to_numpy(float) + 1, self.horizon_days)
        return np.nan_to_num(X[self.column].to_numpy(float)).clip(min=0) * self.horizon_days / days

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame({self.column: self.predict(X)}, index=X.index)
        out["base"] = 0.0
        return out


SCORERS: dict[str, type[Scorer]] = {
    c.__name__: c for c in (LogisticScorer, ColumnScorer, RateScorer)
}
