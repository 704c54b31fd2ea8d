"""The promotion gate holds a model to the best baseline of its own backtest: a learned model
below it is never promoted (without --force), and the best baseline wins the champion."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from customer_ml.config import parse_config
from customer_ml.data.load import load_data
from customer_ml.models.lgbm import LGBMChurnScorer
from customer_ml.models.scorers import LogisticScorer
from customer_ml.tracking.backend import open_store
from customer_ml.tracking.registry import promote, version_by_alias
from customer_ml.train.jobs import prepare_frames, train_task
from tests.conftest import REPO


class ShuffledLGBM(LGBMChurnScorer):
    """A deliberately weak learned model: LightGBM fit on shuffled labels."""

    def fit(self, X: Any, y: Any) -> ShuffledLGBM:
        y = np.random.default_rng(self.seed).permutation(np.asarray(y, float))
        return super().fit(X, y)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    raw = {
        "project": "gate",
        "data": {"synthetic": {"n_customers": 1000, "with_events": False}},
        "as_of": "2024-12-15",
        "backtest": {"n_origins": 1, "n_train_cutoffs": 2, "n_boot": 20},
        "paths": {"mlruns": str(tmp_path_factory.mktemp("mlruns"))},
    }
    cfg = parse_config(raw, base_dir=REPO)
    data = load_data(cfg)
    return cfg, data, prepare_frames(data, cfg, as_of=cfg.as_of)


def _candidates() -> dict[str, Any]:
    return {
        "recency_only": LogisticScorer(("recency_days",)),
        "logistic_rfm": LogisticScorer(("recency_days", "frequency", "monetary_mean", "T")),
        "weak_lgbm": ShuffledLGBM(num_boost_round=20),
    }


def test_a_weak_learned_model_is_refused_and_the_best_baseline_wins(setup) -> None:
    cfg, data, frames = setup
    client = open_store(cfg.paths.mlruns)
    # registered on purpose despite its backtest: the gate must stop it
    weak = train_task(
        data, cfg, task="churn", frames=frames, candidates=_candidates(), choose="weak_lgbm"
    )
    bt = weak.backtest
    best = next(c for c in bt.ranking() if not bt.learned[c])
    assert bt.learned == {"recency_only": False, "logistic_rfm": False, "weak_lgbm": True}
    assert bt.score("weak_lgbm") < bt.score(best)  # it is weak indeed
    mv = client.get_model_version("gate-churn", weak.version)
    assert mv.tags["best_baseline"] == best
    assert float(mv.tags["best_baseline_metric"]) == pytest.approx(bt.score(best), abs=1e-6)
    refused = promote(client, "gate-churn")  # no champion yet: the baseline alone refuses it
    assert not refused.promoted and "below the best baseline" in refused.message
    assert version_by_alias(client, "gate-churn", "champion") is None
    # --force overrides the floor, and says so on the version
    forced = promote(client, "gate-churn", force=True)
    assert forced.promoted and "forced" in forced.message and "best baseline" in forced.message
    assert "forced_promotion" in client.get_model_version("gate-churn", weak.version).tags

    # trained as usual, the same candidates give the best baseline, which replaces it
    usual = train_task(data, cfg, task="churn", frames=frames, candidates=_candidates())
    assert usual.chosen == best
    ok = promote(client, "gate-churn")
    assert ok.promoted, ok.message
    champ = version_by_alias(client, "gate-churn", "champion")
    assert champ is not None and champ.tags["candidate"] == best


def test_choose_names_a_backtested_candidate(setup) -> None:
    cfg, data, frames = setup
    with pytest.raises(ValueError, match="not a candidate"):
        train_task(
            data,
            cfg,
            task="churn",
            frames=frames,
            candidates=_candidates(),
            choose="nope",
            log=False,
        )


def test_a_tie_keeps_the_champion_and_a_refit_on_later_data_renews_it(tmp_path) -> None:
    raw = {
        "project": "tie",
        "data": {"synthetic": {"n_customers": 1000, "with_events": False}},
        "backtest": {"n_origins": 1, "n_train_cutoffs": 2, "n_boot": 0},
        "paths": {"mlruns": str(tmp_path / "mlruns")},
    }
    cfg = parse_config(raw, base_dir=REPO)
    data = load_data(cfg)
    client = open_store(cfg.paths.mlruns)

    def train(as_of: str) -> str:
        cands = {"logistic_rfm": LogisticScorer(("recency_days", "frequency", "T"))}
        return train_task(data, cfg, task="churn", as_of=as_of, candidates=cands).version

    first = train("2024-09-30")
    assert promote(client, "tie-churn").promoted
    # the same recipe on the same data: the same score; the champion stays
    again = train("2024-09-30")
    mv = client.get_model_version("tie-churn", again)
    assert mv.tags["metric_value"] == mv.tags["champion_metric"]
    kept = promote(client, "tie-churn")
    assert not kept.promoted and "a tie keeps the champion" in kept.message
    assert str(version_by_alias(client, "tie-churn", "champion").version) == first
    # the same recipe fit on later data renews the champion, and says so
    later = train("2024-12-15")
    renewed = promote(client, "tie-churn")
    assert renewed.promoted and "refit on data up to 2024-12-15" in renewed.message
    assert str(version_by_alias(client, "tie-churn", "champion").version) == later
