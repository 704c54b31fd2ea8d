"""Actions from a playbook: ordered rules over segment, value tier, lifecycle stage, RFM
segment and churn probability; the first rule that matches a customer gives its action."""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_ml.config import Config
from customer_ml.config.rules import PlaybookRule

__all__ = ["apply_playbook", "playbook", "value_at_risk"]


def playbook(config: Config, name: str | None = None) -> tuple[PlaybookRule, ...]:
    """The named playbook (default: the config's `default_playbook`)."""
    name = name or config.default_playbook
    if name not in config.playbooks:
        raise KeyError(f"no playbook {name!r}; the config has {sorted(config.playbooks)}")
    return config.playbooks[name]


def _matches(
    rule: PlaybookRule, codes: dict[str, tuple[np.ndarray, list[str]]], churn: np.ndarray
) -> np.ndarray:
    hit = np.ones(len(churn), bool)
    for col, allowed in rule.when.items():
        code, levels = codes[col]
        wanted = {str(a) for a in allowed}
        hit &= np.isin(code, [i for i, v in enumerate(levels) if v in wanted])
    if rule.churn_at_least is not None:
        hit &= churn >= rule.churn_at_least
    if rule.churn_below is not None:
        hit &= churn < rule.churn_below
    return hit


def apply_playbook(scores: pd.DataFrame, rules: tuple[PlaybookRule, ...]) -> pd.DataFrame:
    """`recommended_action` and `action_channel` per customer ("" when no rule matches; a
    rule without conditions at the end makes a default)."""
    action = np.full(len(scores), "", dtype=object)
    channel = np.full(len(scores), "", dtype=object)
    done = np.zeros(len(scores), bool)
    codes = {}  # each column's values as integer codes, compared once per level
    for col in {c for rule in rules for c in rule.when}:
        code, levels = pd.factorize(scores[col])
        codes[col] = (code, [str(v) for v in levels])
    churn = scores["churn_probability"].to_numpy(float)
    for rule in rules:
        hit = ~done & _matches(rule, codes, churn)
        action[hit] = rule.action
        channel[hit] = rule.channel
        done |= hit
    return pd.DataFrame(
        {"recommended_action": action, "action_channel": channel}, index=scores.index
    )


def value_at_risk(scores: pd.DataFrame) -> pd.Series:
    """churn probability x predicted LTV (x expected purchases when there are no amounts)."""
    value = scores["predicted_ltv"]
    if value.isna().all():
        value = scores["expected_purchases"]
    return (scores["churn_probability"] * value.fillna(0)).rename("value_at_risk")
