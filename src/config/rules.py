"""Rule configs: the tag thresholds, the action playbooks and the service's limits.

Each is a frozen pydantic model that forbids unknown keys (part of `customer_ml.config`), so a
marketer can change a threshold or an action in YAML without touching code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_PLAYBOOKS",
    "FrequencyBands",
    "LifecycleRule",
    "PlaybookRule",
    "ServingConfig",
    "Strict",
    "TagsConfig",
    "ValueTierRule",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueTierRule(Strict):
    weights: dict[str, float] = Field(
        default_factory=lambda: {"monetary_total": 1.0, "n_purchases": 1.0, "monetary_mean": 1.0},
        description="features whose percentile ranks are averaged into the value score",
    )
    high: float = Field(0.8, gt=0, lt=1, description="score at or above which a tier is high")
    mid: float = Field(0.4, gt=0, lt=1)


class LifecycleRule(Strict):
    new_days: int = Field(30, gt=0, description="first purchase within N days: new")
    lapsed_days: int = Field(180, gt=0, description="no purchase for M days: lapsed")
    at_risk_factor: float = Field(2.0, gt=0, description="gap > k x usual gap: at-risk")
    at_risk_days_single: int = Field(90, gt=0, description="one-time buyers: at-risk after")
    reactivated_gap_days: int | None = Field(
        None,
        description="a gap before the last purchase longer than this: reactivated "
        "(default: lapsed_days)",
    )


class FrequencyBands(Strict):
    """Purchases per year: below `low` is low, at or above `high` is high."""

    low: float = 2.0
    high: float = 12.0


class TagsConfig(Strict):
    value_tier: ValueTierRule = ValueTierRule()
    lifecycle: LifecycleRule = LifecycleRule()
    frequency: FrequencyBands = FrequencyBands()
    basic: tuple[str, ...] | None = Field(
        None, description="attribute columns to tag; None = every text attribute with < 20 levels"
    )


Matchable = Literal["segment", "segment_name", "value_tier", "lifecycle_stage", "rfm_segment"]


class PlaybookRule(Strict):
    """When every condition holds, recommend `action` through `channel`. Conditions: allowed
    values of the scores' columns (`when`) and bounds on the churn probability."""

    action: str = Field(min_length=1)
    channel: str = ""
    when: dict[Matchable, tuple[str | int, ...]] = Field(default_factory=dict)
    churn_at_least: float | None = Field(None, ge=0, le=1)
    churn_below: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _non_empty(self) -> PlaybookRule:
        if any(len(v) == 0 for v in self.when.values()):
            raise ValueError("a `when` condition lists no values")
        return self


def _rule(action: str, channel: str, **when: tuple[str, ...]) -> PlaybookRule:
    return PlaybookRule(action=action, channel=channel, when=when)


#: the retention playbook used when a config names none; the first matching rule wins
DEFAULT_PLAYBOOKS: dict[str, tuple[PlaybookRule, ...]] = {
    "retention": (
        _rule("VIP win-back call", "phone", value_tier=("high",), lifecycle_stage=("at-risk",)),
        _rule("VIP win-back offer", "email", value_tier=("high",), lifecycle_stage=("lapsed",)),
        _rule("VIP care", "account manager", value_tier=("high",)),
        _rule("first-repeat nudge", "email", lifecycle_stage=("new",)),
        _rule("retention offer", "email", lifecycle_stage=("at-risk",)),
        _rule("win-back offer", "email", lifecycle_stage=("lapsed",)),
        _rule("welcome back", "email", lifecycle_stage=("reactivated",)),
        _rule("upsell", "email", value_tier=("mid",)),
        PlaybookRule(action="keep engaged", channel="newsletter"),
    ),
}


class ServingConfig(Strict):
    """The HTTP service: address, request limits and the optional API key."""

    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    max_batch: int = Field(1000, ge=1, description="customers per /score request")
    precompute_limit: int = Field(
        200_000,
        ge=0,
        description="feature stores up to this many customers are scored once at start-up, "
        "so lookups by id answer from memory (larger stores score each request)",
    )
    api_key_env: str = Field(
        "CUSTOMER_ML_API_KEY",
        description="when this variable is set, requests but the probes need the header "
        "'Authorization: Bearer <key>' (or 'X-API-Key: <key>')",
    )
    max_body_bytes: int = Field(
        1 << 20, ge=1024, description="larger request bodies get 413 (default 1 MiB)"
    )
