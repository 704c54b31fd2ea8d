"""The candidate sets per task: the baselines always, learned models added on top."""

from __future__ import annotations

from customer_ml.config import TuningConfig
from customer_ml.models.scorers import ColumnScorer, LogisticScorer, RateScorer, Scorer
from customer_ml.train.tuning import TunedLGBM

__all__ = ["baselines", "learned"]


def baselines(task: str, *, has_amount: bool, horizon_days: int) -> dict[str, Scorer]:
    """Churn: recency-only, frequency-only, logistic on log-RFM, BG/NBD, Pareto/NBD.
    LTV: the historical rate carried forward, BG/NBD x Gamma-Gamma, Pareto/NBD x Gamma-Gamma
    (without amounts: expected purchases, BG/NBD and Pareto/NBD)."""
    if task == "churn":
        rfm = ("recency_days", "frequency", "monetary_mean", "T")
        return {
            "recency_only": LogisticScorer(("recency_days",)),
            "frequency_only": LogisticScorer(("frequency",)),
            "logistic_rfm": LogisticScorer(rfm if has_amount else rfm[:2] + rfm[3:]),
            "bgnbd": ColumnScorer("bgnbd_p_any", complement=True),
            "pnbd": ColumnScorer("pnbd_p_any", complement=True),
        }
    if task == "ltv":
        if has_amount:
            return {
                "historical_rate": RateScorer("monetary_total", horizon_days),
                "bgnbd_gg": ColumnScorer("bgnbd_gg_revenue"),
                "pnbd_gg": ColumnScorer("pnbd_gg_revenue"),
            }
        return {
            "historical_rate": RateScorer("n_purchases", horizon_days),
            "bgnbd": ColumnScorer("bgnbd_expected_purchases"),
            "pnbd": ColumnScorer("pnbd_expected_purchases"),
        }
    raise ValueError(f"unknown task {task!r}")


def learned(task: str, *, tuning: TuningConfig, seed: int = 0) -> dict[str, Scorer]:
    """Churn: LightGBM on the behaviour vector, without and with the BTYD columns.
    LTV: LightGBM Tweedie and two-part, with the BTYD columns. Each tunes itself with Optuna
    inside `fit`, on the cutoffs it is given."""
    budget = {
        "n_trials": tuning.n_trials,
        "timeout_s": tuning.timeout_s,
        "max_rounds": tuning.max_rounds,
        "prefer_smaller": tuning.prefer_smaller,
        "seed": seed,
    }
    if task == "churn":
        return {
            "lgbm": TunedLGBM("churn", "plain", **budget),
            "lgbm_btyd": TunedLGBM("churn", "btyd", **budget),
        }
    return {
        "lgbm_tweedie": TunedLGBM("ltv", "btyd", **budget),
        "lgbm_two_part": TunedLGBM("ltv", "two_part", **budget),
    }
