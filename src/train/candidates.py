"""The candidate sets per task: the baselines always, learned models added on top."""

from __future__ import annotations

from customer_ml.models.scorers import ColumnScorer, LogisticScorer, RateScorer, Scorer

__all__ = ["baselines"]


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
