"""LightGBM scorers on the behaviour vector (optionally with the BTYD columns).

Churn: a binary booster, monotone in the days since the last purchase, fit on every cutoff of
its training frame; its probabilities are calibrated on the latest cutoff, scored by a booster
fit on the earlier ones (isotonic or Platt, whichever has the lower Brier score in a 2-fold
split of that cutoff). LTV: a Tweedie booster, or
two parts, P(any purchase) x E[spend | purchase]. Contributions are LightGBM's exact TreeSHAP
values (``pred_contrib=True``, tabulated per cell for large batches: `models.cellshap`) in
the booster's raw (margin) space, plus ``base``.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import special
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from customer_ml.models.btyd_features import BTYD_COLUMNS
from customer_ml.models.cellshap import cell_shap
from customer_ml.models.scorers import Scorer

__all__ = [
    "FEATURE_GROUPS",
    "LGBMChurnScorer",
    "LGBMLTVScorer",
    "booster_params",
    "feature_columns",
    "feature_group",
]

NOT_FEATURES = {"customer_id", "as_of", "churned", "future_purchases", "future_spend"}
# churn can only rise with the time since the last purchase, all else equal
MONOTONE_UP = ("recency_days", "gap_ratio")


# The groups a backtest ablation adds one at a time to the base (recency, frequency, tenure
# and money, with the BTYD columns): what each kind of data a user maps buys.
FEATURE_GROUPS = ("behaviour", "products", "attributes")
RFM = {"n_purchases", "frequency", "recency_days", "T", "recency"}
PRODUCTS = ("items_per_order", "n_orders", "distinct_products", "distinct_categories")


def feature_group(column: str) -> str:
    """ "rfm" (the base, BTYD columns included), "products" (orders, quantities, products,
    categories), "attributes" (the customers table) or "behaviour" (everything else: timing,
    windows, trends, weekdays, returns, channels, events)."""
    if column in RFM or column.startswith("monetary_") or column in BTYD_COLUMNS:
        return "rfm"
    if column in PRODUCTS or column.startswith("category_share_"):
        return "products"
    if column.startswith("attr_") or column == "days_since_signup":
        return "attributes"
    return "behaviour"


def feature_columns(X: pd.DataFrame, *, btyd: bool, drop: tuple[str, ...] = ()) -> list[str]:
    """Numeric and boolean snapshot columns, less ids, cutoffs and labels (and the BTYD
    columns unless `btyd`, and the columns of the feature groups in `drop`)."""
    cols = []
    for c in X.columns:
        if c in NOT_FEATURES or (not btyd and c in BTYD_COLUMNS):
            continue
        if drop and feature_group(c) in drop:
            continue
        if pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]):
            cols.append(c)
    return cols


def booster_params(params: dict[str, Any] | None, *, objective: str, seed: int) -> dict[str, Any]:
    """Defaults for small tabular data, overridden by `params` (e.g. tuned ones)."""
    base = {
        "objective": objective,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": 50,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "num_threads": 0,
    }
    return base | {k: v for k, v in (params or {}).items() if k != "num_boost_round"}


def _matrix(X: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """The columns as one column-major float matrix: what TreeSHAP by cells reads, and what
    LightGBM takes without a copy. pandas stores a frame's columns contiguously, so this
    copies column by column (a row-major copy of a slice of rows costs 3x more)."""
    view = X[cols].to_numpy(dtype=float, na_value=np.nan)
    return np.ascontiguousarray(view.T).T


class _BoosterScorer(Scorer):
    """Shared: the feature list, training one booster, TreeSHAP contributions."""

    booster_: lgb.Booster
    learned = True

    def _train(
        self, X: pd.DataFrame, y: np.ndarray, *, objective: str, params: dict[str, Any] | None
    ) -> lgb.Booster:
        p = booster_params(params, objective=objective, seed=self.seed)
        if objective == "binary":
            p["monotone_constraints"] = [int(c in MONOTONE_UP) for c in self.features_in_]
        rounds = int((params or {}).get("num_boost_round") or self.num_boost_round)
        data = lgb.Dataset(_matrix(X, self.features_in_), label=y, free_raw_data=True)
        return lgb.train(p, data, num_boost_round=rounds)

    def _contrib(
        self, booster: lgb.Booster, X: pd.DataFrame, m: np.ndarray | None = None
    ) -> pd.DataFrame:
        # exact TreeSHAP: LightGBM's pred_contrib, shared across rows of one cell per tree
        m = _matrix(X, self.features_in_) if m is None else m
        return self._frame(cell_shap(booster).contributions(m), X)

    def _frame(self, contrib: np.ndarray, X: pd.DataFrame) -> pd.DataFrame:
        columns = [*self.features_in_, "base"]
        return pd.DataFrame(contrib, columns=columns, index=X.index, copy=False)

    def _predict_explain(
        self, booster: lgb.Booster, X: pd.DataFrame, m: np.ndarray
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """The booster's prediction (bit for bit `booster.predict`) and contributions, from
        one pass over the cells of its trees."""
        pred, contrib = cell_shap(booster).explain(m)
        return pred, self._frame(contrib, X)


class LGBMChurnScorer(_BoosterScorer):
    """P(churn) from a binary booster, calibrated out of time (see the module docstring)."""

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        btyd: bool = True,
        calibration: str = "auto",
        num_boost_round: int = 300,
        seed: int = 0,
        drop: tuple[str, ...] = (),
    ) -> None:
        self.params = params
        self.btyd = btyd
        self.calibration = calibration
        self.num_boost_round = num_boost_round
        self.seed = seed
        self.drop = drop

    def fit(self, X: pd.DataFrame, y: Any) -> LGBMChurnScorer:
        self.features_in_ = feature_columns(X, btyd=self.btyd, drop=tuple(self.drop))
        y = np.asarray(y, float)
        cuts = sorted(pd.unique(X["as_of"])) if "as_of" in X else []
        self.calibrator_: Any = None
        if self.calibration != "none" and len(cuts) >= 2:
            # calibrate out of time: a booster fit on the earlier cutoffs scores the latest;
            # the served booster is then fit on all cutoffs (the map is monotone, so it keeps
            # that booster's ranking)
            late = (X["as_of"] == cuts[-1]).to_numpy()
            early = self._train(X[~late], y[~late], objective="binary", params=self.params)
            p_late = np.asarray(early.predict(_matrix(X[late], self.features_in_)))
            self.calibrator_ = self._calibrate(p_late, y[late])
        self.booster_ = self._train(X, y, objective="binary", params=self.params)
        return self

    def _calibrate(self, p: np.ndarray, y: np.ndarray) -> Any:
        """Isotonic or Platt on the held-out cutoff, whichever has the lower Brier score in a
        seeded 2-fold split of it; then refit on all of it."""
        kinds = ["isotonic", "platt"] if self.calibration == "auto" else [self.calibration]
        fold = np.random.default_rng(self.seed).random(len(y)) < 0.5

        def fit(kind: str, p: np.ndarray, y: np.ndarray) -> Any:
            if kind == "isotonic":
                return IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
            return LogisticRegression().fit(special.logit(np.clip(p, 1e-9, 1 - 1e-9))[:, None], y)

        def brier(kind: str) -> float:
            err = 0.0
            for a in (fold, ~fold):
                if len(np.unique(y[a])) < 2 or not (~a).any():
                    return np.inf
                err += float(np.sum((_apply(fit(kind, p[a], y[a]), p[~a]) - y[~a]) ** 2))
            return err

        best = min(kinds, key=brier)
        return fit(best, p, y) if len(np.unique(y)) == 2 else None

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return self._calibrated(np.asarray(self.booster_.predict(_matrix(X, self.features_in_))))

    def _calibrated(self, p: np.ndarray) -> np.ndarray:
        return _apply(self.calibrator_, p) if self.calibrator_ is not None else np.asarray(p)

    def predict_explain(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        check_is_fitted(self, "booster_")
        p, contrib = self._predict_explain(self.booster_, X, _matrix(X, self.features_in_))
        return self._calibrated(p), contrib

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(_matrix(X, self.features_in_), raw_score=True))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        return self._contrib(self.booster_, X)


def _apply(calibrator: Any, p: np.ndarray) -> np.ndarray:
    if isinstance(calibrator, IsotonicRegression):
        # isotonic steps tie customers the booster tells apart; a 1e-9 nudge by the raw score
        # keeps the booster's ranking (and its ROC-AUC) at no cost to calibration
        return np.clip(np.asarray(calibrator.predict(p)) + 1e-9 * p, 0.0, 1.0)
    z = special.logit(np.clip(p, 1e-9, 1 - 1e-9))[:, None]
    return np.asarray(calibrator.predict_proba(z)[:, 1])


class LGBMLTVScorer(_BoosterScorer):
    """Expected value in the horizon: Tweedie booster, or two parts (``two_part=True``).

    Contributions: Tweedie, the log-scale margin; two-part, the spend part's log-scale margin
    plus one ``log_p_purchase`` term, so that they add up to log(prediction).
    """

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        btyd: bool = True,
        two_part: bool = False,
        num_boost_round: int = 300,
        seed: int = 0,
        drop: tuple[str, ...] = (),
    ) -> None:
        self.params = params
        self.btyd = btyd
        self.two_part = two_part
        self.num_boost_round = num_boost_round
        self.seed = seed
        self.drop = drop

    def fit(self, X: pd.DataFrame, y: Any) -> LGBMLTVScorer:
        self.features_in_ = feature_columns(X, btyd=self.btyd, drop=tuple(self.drop))
        y = np.clip(np.asarray(y, float), 0, None)
        if not self.two_part:
            self.booster_ = self._train(X, y, objective="tweedie", params=self.params)
            return self
        buys = y > 0
        params = {k: v for k, v in (self.params or {}).items() if k != "tweedie_variance_power"}
        self.purchase_ = self._train(X, buys.astype(float), objective="binary", params=params)
        self.booster_ = self._train(X[buys], y[buys], objective="gamma", params=params)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "booster_")
        m = _matrix(X, self.features_in_)
        value = np.asarray(self.booster_.predict(m))
        return value * self.purchase_.predict(m) if self.two_part else value

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.log(np.maximum(self.predict(X), 1e-300))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        m = _matrix(X, self.features_in_)
        out = self._contrib(self.booster_, X, m)
        self._with_purchase(out, m)
        return out

    def predict_explain(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        check_is_fitted(self, "booster_")
        m = _matrix(X, self.features_in_)
        value, out = self._predict_explain(self.booster_, X, m)
        p = self._with_purchase(out, m)
        return (value * p if p is not None else value), out

    def _with_purchase(self, out: pd.DataFrame, m: np.ndarray) -> np.ndarray | None:
        """Two-part model: P(purchase), its log added to `out` as ``log_p_purchase``."""
        if not self.two_part:
            return None
        p = np.asarray(self.purchase_.predict(m))
        out.insert(len(out.columns) - 1, "log_p_purchase", np.log(np.maximum(p, 1e-300)))
        return p
