"""Churn scorers for contractual data (e.g. Telco): a customers table with attributes and a
churn label, no purchase history. Text columns are categories, the rest numbers.

Contributions are per original column (one-hot terms summed for the logistic model), plus
``base``; they add up to the log-odds.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from customer_ml.models.lgbm import booster_params
from customer_ml.models.scorers import Scorer

__all__ = ["AttributeLGBM", "AttributeLogistic", "attribute_columns"]

NOT_FEATURES = {"customer_id", "churned", "signup_ts", "as_of", "future_purchases", "future_spend"}
MAX_LEVELS = 50  # text columns with more distinct values (ids, free text) are not features


def attribute_columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(categorical, numeric) attribute columns."""
    cat: list[str] = []
    num: list[str] = []
    for c in X.columns:
        if c in NOT_FEATURES:
            continue
        is_num = pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
        if is_num:
            num.append(c)
        elif X[c].nunique() <= MAX_LEVELS:
            cat.append(c)
    return cat, num


class AttributeLogistic(Scorer):
    """Logistic regression: one-hot categories, standardised numbers (median-imputed)."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X: pd.DataFrame, y: Any) -> AttributeLogistic:
        self.categorical_, self.numeric_ = attribute_columns(X)
        self.features_in_ = self.categorical_ + self.numeric_
        self.prep_ = ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), self.categorical_),
                (
                    "num",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    self.numeric_,
                ),
            ],
            sparse_threshold=0,
        )
        Z = self.prep_.fit_transform(_text(X, self.categorical_))
        self.model_ = LogisticRegression(C=self.C, max_iter=2000).fit(Z, np.asarray(y, int))
        # which original column each transformed column comes from
        cats = self.prep_.named_transformers_["cat"].categories_ if self.categorical_ else []
        self.source_ = [
            c for c, levels in zip(self.categorical_, cats, strict=True) for _ in levels
        ] + self.numeric_
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        Z = self.prep_.transform(_text(X, self.categorical_))
        return np.asarray(self.model_.predict_proba(Z)[:, 1])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "model_")
        Z = self.prep_.transform(_text(X, self.categorical_)) * self.model_.coef_[0]
        terms = pd.DataFrame(Z, index=X.index).T.groupby(np.asarray(self.source_)).sum().T
        out = terms.reindex(columns=self.features_in_, fill_value=0.0)
        out["base"] = float(self.model_.intercept_[0])
        return out


def _text(X: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    X = X.copy()
    for c in cols:
        X[c] = X[c].astype("object").where(X[c].notna(), "(missing)").astype(str)
    return X


class AttributeLGBM(Scorer):
    """LightGBM with native categorical splits; categories are fixed at fit."""

    learned = True

    def __init__(
        self, params: dict[str, Any] | None = None, num_boost_round: int = 300, seed: int = 0
    ) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.seed = seed

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X[self.features_in_].copy()
        for c in self.categorical_:
            v = X[c].astype("object")
            known = v.isin(self.categories_[c])  # unseen values score as missing
            out[c] = pd.Categorical(v.where(known), categories=self.categories_[c])
        return out

    def fit(self, X: pd.DataFrame, y: Any) -> AttributeLGBM:
        self.categorical_, self.numeric_ = attribute_columns(X)
        self.features_in_ = self.categorical_ + self.numeric_
        self.categories_ = {
            c: sorted(X[c].dropna().astype(str).unique()) for c in self.categorical_
        }
        p = booster_params(
            {"learning_rate": 0.03, "num_leaves": 8, "min_child_samples": 40} | (self.params or {}),
            objective="binary",
            seed=self.seed,
        )
        data = lgb.Dataset(self._frame(X), label=np.asarray(y, float), categorical_feature="auto")
        self.booster_ = lgb.train(p, data, num_boost_round=self.num_boost_round)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict(self._frame(X)))

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(self._frame(X), raw_score=True))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        c = self.booster_.predict(self._frame(X), pred_contrib=True)
        return pd.DataFrame(c, columns=[*self.features_in_, "base"], index=X.index)
