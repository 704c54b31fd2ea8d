"""The feature-group ablation: what each group is, that a group which helps is kept and one
which does not is dropped, and that training serves models without the dropped groups."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from customer_ml.config import parse_config
from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import generate
from customer_ml.models.lgbm import feature_columns, feature_group
from customer_ml.train.ablation import ablate, apply_drop
from customer_ml.train.backtest import Frames
from customer_ml.train.candidates import learned
from customer_ml.train.jobs import prepare_frames, train_task
from customer_ml.train.tuning import TunedLGBM
from tests.conftest import REPO

AS_OF = dt.date(2024, 12, 15)
H = 90


@pytest.fixture(scope="module")
def cfg():
    return parse_config(
        {
            "data": {"synthetic": {}},
            "horizon_days": H,
            "backtest": {"n_origins": 2, "n_train_cutoffs": 2, "n_boot": 20},
            "tuning": {"n_trials": 2, "timeout_s": 10, "max_rounds": 60},
        },
        base_dir=REPO,
    )


@pytest.fixture(scope="module")
def data():
    return from_frames(generate(1500, seed=7).transactions)


def planted(frames: Frames, seed: int = 0) -> Frames:
    """The frames with a products column that tells the label apart (the label plus noise)
    and an attribute column of pure noise."""
    rng = np.random.default_rng(seed)
    out = {}
    for d, f in frames.by_cutoff.items():
        signal = f["churned"].to_numpy(float) * 2 + rng.normal(0, 1, len(f))
        out[d] = f.assign(distinct_products=signal, attr_noise=rng.normal(0, 1, len(f)))
    return Frames(out, frames.schema, frames.plan)


@pytest.fixture(scope="module")
def frames(data, cfg) -> Frames:
    return planted(prepare_frames(data, cfg, as_of=AS_OF))


def test_columns_fall_into_their_groups() -> None:
    groups = {
        "recency_days": "rfm",
        "T": "rfm",
        "monetary_mean": "rfm",
        "monetary_total": "rfm",
        "bgnbd_p_alive": "rfm",
        "pnbd_gg_revenue": "rfm",
        "purchases_30d": "behaviour",
        "ipt_mean_days": "behaviour",
        "dow_share_mon": "behaviour",
        "channel_share_web": "behaviour",
        "n_orders": "products",
        "items_per_order": "products",
        "distinct_categories": "products",
        "category_share_toys": "products",
        "attr_region": "attributes",
        "days_since_signup": "attributes",
    }
    assert {c: feature_group(c) for c in groups} == groups
    frame = pd.DataFrame({c: [1.0] for c in groups} | {"churned": [1.0], "customer_id": ["a"]})
    cols = feature_columns(frame, btyd=True, drop=("products", "attributes"))
    assert set(cols) == {c for c, g in groups.items() if g in ("rfm", "behaviour")}


def test_a_group_that_helps_is_kept_and_one_that_does_not_is_dropped(frames, cfg) -> None:
    template = learned("churn", tuning=cfg.tuning)["lgbm"]
    ab = ablate(frames.by_cutoff, frames.plan, task="churn", template=template, n_train_cutoffs=2)
    assert ab is not None
    steps = ab.steps.set_index("step")
    assert list(steps.index) == ["rfm", "+ behaviour", "+ products", "+ attributes"]
    assert steps.loc["+ products", "kept"] and steps.loc["+ products", "gain"] > 0.01
    assert not steps.loc["+ attributes", "kept"]
    assert "attributes" in ab.dropped and "products" not in ab.dropped
    assert ab.present["attributes"] == 1
    # the groups of each step are those kept before it plus its own
    kept = [g for g in ("behaviour", "products") if g not in ab.dropped]
    assert steps.loc["+ attributes", "groups"] == "+".join(["rfm", *kept, "attributes"])


def test_without_extra_groups_or_labels_there_is_no_ablation(data, cfg) -> None:
    base = prepare_frames(data, cfg, as_of=AS_OF)
    rfm_only = {
        d: f[
            [
                c
                for c in f.columns
                if feature_group(c) == "rfm" or c not in feature_columns(f, btyd=True)
            ]
        ]
        for d, f in base.by_cutoff.items()
    }
    template = TunedLGBM("churn", "plain", n_trials=0)
    assert ablate(rfm_only, base.plan, task="churn", template=template, n_train_cutoffs=2) is None


def test_apply_drop_touches_only_the_learned_models() -> None:
    cands = {"lgbm": TunedLGBM("churn", "plain"), "other": object()}
    out = apply_drop(cands, ("attributes",))  # type: ignore[arg-type]
    assert out["lgbm"].get_params()["drop"] == ("attributes",)
    assert cands["lgbm"].get_params()["drop"] == ()
    assert out["other"] is cands["other"]


def lgbm_of(data, config, frames):
    return train_task(
        data,
        config,
        task="churn",
        as_of=AS_OF,
        frames=frames,
        register=False,
        log=False,
        choose="lgbm",
    )


def test_training_serves_models_without_the_dropped_groups(data, cfg, frames) -> None:
    res = lgbm_of(data, cfg, frames)
    assert res.ablation is not None and "attributes" in res.ablation.dropped
    served = res.model.scorer.features_in_
    assert "attr_noise" not in served and "distinct_products" in served
    # switched off, every group is used
    off = cfg.model_copy(update={"backtest": cfg.backtest.model_copy(update={"ablation": False})})
    res = lgbm_of(data, off, frames)
    assert res.ablation is None and "attr_noise" in res.model.scorer.features_in_
