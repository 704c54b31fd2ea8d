"""Request and response models of the scoring service (they make its OpenAPI spec)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    # NaN and infinities are refused with a field-level 400, as are unknown keys
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CustomerIn(Strict):
    """A customer to score: by id (looked up in the feature store) or with its features."""

    customer_id: str | int = Field(description="the customer's id in your data")
    features: dict[str, float | int | bool | str | None] | None = Field(
        None,
        description="behaviour features as of the store's date (names as in the feature "
        "store; at least recency_days, n_purchases, frequency, recency, T); omit to look "
        "the customer up",
    )


class CustomerScore(BaseModel):
    """Scores of one customer, or the error that kept it from being scored."""

    customer_id: str
    error: str | None = Field(None, description="why this customer was not scored")
    segment: int | None = None
    segment_name: str | None = None
    value_tier: str | None = None
    lifecycle_stage: str | None = None
    rfm_score: str | None = None
    rfm_segment: str | None = None
    tags: list[str] = []
    churn_probability: float | None = Field(None, description="P(no purchase in the horizon)")
    expected_purchases: float | None = None
    predicted_ltv: float | None = Field(
        None, description="revenue in the horizon (no amounts: null)"
    )
    value_at_risk: float | None = None
    top_reasons: list[str] = []
    ltv_reasons: list[str] = []
    recommended_action: str | None = None
    action_channel: str | None = None
    model_versions: dict[str, str] = {}
    as_of: str | None = Field(None, description="the feature store's date")


class TaskExplanation(BaseModel):
    contributions: dict[str, float] = Field(
        description="exact TreeSHAP values (LightGBM) or linear terms, in the model's raw space"
    )
    base: float
    reason_weights: dict[str, float] = Field(description="what the reasons are ranked by")


class Explanation(BaseModel):
    customer_id: str
    churn: TaskExplanation
    ltv: TaskExplanation
    segment: dict[str, float] = Field(
        description="per feature: how much it favours the assigned segment over the next nearest"
    )
    scores: CustomerScore


class RecommendIn(Strict):
    """Whom to recommend to, and how many products."""

    customer_id: str | int = Field(description="the customer's id in your data")
    k: int = Field(10, ge=1, le=50, description="how many products")
    new_only: bool = Field(False, description="only products the customer never bought")
    category: str | None = Field(None, description="only products of this category")


class Product(BaseModel):
    product_id: str
    score: float
    reason: str
    category: str | None = None


class Recommendations(BaseModel):
    """The products for one customer, best first."""

    customer_id: str
    products: list[Product] = []
    note: str | None = Field(None, description="e.g. 'new customer': popularity for an unknown id")
    as_of: str | None = None
