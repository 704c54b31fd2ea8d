"""One contract for every scorer, in the spirit of scikit-learn's `check_estimator`.

Each entry of CASES says how to fit one scorer on a point-in-time training frame, what its
prediction is, and how the product persists it (an MLflow pyfunc model for the churn and LTV
scorers, an MLflow sklearn model for the segmentation pipelines, the JSON parameters beside
the feature store for the BTYD models). Every case is checked for:

- fit returns the estimator; predictions are finite, of one per row, and in range;
- save and load gives bit-identical predictions;
- point in time: fitting and scoring as of D on data that also holds later transactions
  gives the same predictions as on the data cut at D;
- a row's prediction does not depend on the other rows of the batch (appending a later
  snapshot's rows or shuffling leaves it unchanged);
- predictable errors: predicting before fit raises NotFittedError, and a frame without a
  column the scorer uses raises an error that names it.

`test_the_registry_is_complete` discovers every scorer class (subclasses of `Scorer`, the
fitted BTYD estimators, and the cluster models `make_segmenter` builds) and fails if one has
no case, so a new scorer cannot ship without passing the contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from customer_ml.data.load import from_frames
from customer_ml.data.synthetic import generate
from customer_ml.features import build_snapshot, build_training_frame
from customer_ml.models import btyd as btyd_module
from customer_ml.models.btyd import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from customer_ml.models.btyd_features import btyd_features, from_params
from customer_ml.models.contractual import AttributeLGBM, AttributeLogistic
from customer_ml.models.lgbm import LGBMChurnScorer, LGBMLTVScorer
from customer_ml.models.scorers import ColumnScorer, LogisticScorer, RateScorer, Scorer
from customer_ml.models.segments import LARGE, make_segmenter, segment_columns
from customer_ml.models.specs import ALL_SCORERS, from_spec
from customer_ml.tracking.pyfunc import REQUIREMENTS, ScorerModel, unwrap
from customer_ml.train.segments import GRID
from customer_ml.train.tuning import TunedLGBM

AS_OF = "2023-12-31"
HORIZON = 60


@dataclass(frozen=True)
class Frames:
    """A training frame (snapshots at three cutoffs before D, with labels and BTYD
    columns) and the scoring frame as of D, both from the same transactions."""

    train: pd.DataFrame
    score: pd.DataFrame


def _with_btyd(frame: pd.DataFrame) -> pd.DataFrame:
    parts = [
        pd.concat([f, btyd_features(f, horizon_days=HORIZON)], axis=1)
        for _, f in frame.groupby("as_of", sort=True)
    ]
    return pd.concat(parts, ignore_index=True)


@cache
def _synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    syn = generate(700, seed=5, start="2023-01-01", days=540, acquisition_days=200)
    customers = syn.customers[["customer_id", "region"]]
    return syn.transactions, customers


@cache
def frames(*, cut_at_as_of: bool) -> Frames:
    """The frames as of AS_OF from all transactions, or from those up to AS_OF only."""
    tx, customers = _synthetic()
    if cut_at_as_of:
        tx = tx[tx.ts <= pd.Timestamp(AS_OF) + pd.Timedelta(days=1)]
    data = from_frames(tx, customers)
    train = build_training_frame(data, as_of=AS_OF, horizon_days=HORIZON, n_cutoffs=3)
    snap = build_snapshot(data, as_of=AS_OF)
    score = pd.concat([snap, btyd_features(snap, horizon_days=HORIZON)], axis=1)
    return Frames(_with_btyd(train), score)


def later_rows() -> pd.DataFrame:
    """The snapshot of the same customers a season after AS_OF (other rows, other values)."""
    tx, customers = _synthetic()
    snap = build_snapshot(from_frames(tx, customers), as_of="2024-04-30")
    return pd.concat([snap, btyd_features(snap, horizon_days=HORIZON)], axis=1)


# ---- how each kind of scorer is fit, predicts and is persisted ---------------------------


def _label(frame: pd.DataFrame, task: str) -> np.ndarray:
    col = "churned" if task == "churn" else "future_spend"
    return frame[col].to_numpy(float)


def _save_pyfunc(model: Any, path: Path) -> Any:
    served = model.fitted_ if isinstance(model, TunedLGBM) else model
    wrapped = ScorerModel(served, task="churn", horizon_days=HORIZON, schema={})
    mlflow.pyfunc.save_model(path, python_model=wrapped, pip_requirements=REQUIREMENTS)
    return unwrap(str(path)).scorer


def _save_sklearn(model: Any, path: Path) -> Any:
    mlflow.sklearn.save_model(model, path, serialization_format="cloudpickle")
    return mlflow.sklearn.load_model(str(path))


BTYD_SLOT = {BetaGeoModel: "bgnbd", ParetoNBDModel: "pnbd", GammaGammaModel: "gg"}


def _save_params(model: Any, path: Path) -> Any:
    """The parameters as JSON, as the feature store keeps them; rebuilt by `from_params`."""
    slot = BTYD_SLOT[type(model)]
    path.write_text(json.dumps({slot: model.params_}))
    params = {"bgnbd": None, "pnbd": None, "gg": None} | json.loads(path.read_text())
    return from_params(params)[list(BTYD_SLOT.values()).index(slot)]


def _exposed(X: pd.DataFrame) -> pd.DataFrame:
    """A first purchase on the cutoff day has T = 0: half a day of exposure, as the store."""
    return X.assign(T=X["T"].clip(lower=0.5)) if "T" in X else X


@dataclass(frozen=True)
class Case:
    make: Callable[[], Any]
    fit: Callable[[Any, Frames], Any]
    predict: Callable[[Any, pd.DataFrame], np.ndarray]
    save_load: Callable[[Any, Path], Any]
    uses: str  # a column the scorer reads: without it, predict must say so
    high: float = np.inf  # predictions lie in [0, high]


def scorer(make: Callable[[], Scorer], task: str, uses: str, high: float = np.inf) -> Case:
    """Churn and LTV scorers: fit on the labelled cutoffs before D, score the snapshot at D."""

    def fit(s: Scorer, f: Frames) -> Scorer:
        return s.fit(f.train, _label(f.train, task))

    return Case(make, fit, lambda s, X: s.predict(X), _save_pyfunc, uses, high=high)


def btyd(
    make: Callable[[], Any],
    predict: Callable[[Any, pd.DataFrame], np.ndarray],
    uses: str = "recency",
    high: float = np.inf,
) -> Case:
    """BTYD models: fit on the snapshot at D itself (no labels), as the feature store does."""
    return Case(make, lambda m, f: m.fit(_exposed(f.score)), predict, _save_params, uses, high)


def segments(algorithm: str, n_rows: int) -> Case:
    """Segmentation pipelines: fit on the snapshot at D, as a scoring run does."""

    def make() -> Any:
        cols = segment_columns(frames(cut_at_as_of=True).score)
        return make_segmenter(cols, k=4, algorithm=algorithm, transform="log", n_rows=n_rows)

    return Case(
        make,
        lambda p, f: p.fit(f.score),
        lambda p, X: p.predict(X),
        _save_sklearn,
        "recency_days",
        3,
    )


TUNED = {"n_trials": 2, "timeout_s": 600.0, "max_rounds": 60}  # trials, not time, decide
CASES: dict[str, Case] = {
    "LogisticScorer": scorer(
        lambda: LogisticScorer(("recency_days", "frequency", "monetary_mean", "T")),
        "churn",
        "frequency",
        high=1,
    ),
    "ColumnScorer": scorer(
        lambda: ColumnScorer("bgnbd_p_any", complement=True), "churn", "bgnbd_p_any", high=1
    ),
    "RateScorer": scorer(lambda: RateScorer("monetary_total", HORIZON), "ltv", "monetary_total"),
    "LGBMChurnScorer": scorer(lambda: LGBMChurnScorer(num_boost_round=60), "churn", "T", high=1),
    "LGBMLTVScorer": scorer(lambda: LGBMLTVScorer(num_boost_round=60), "ltv", "T"),
    "LGBMLTVScorer(two_part)": scorer(
        lambda: LGBMLTVScorer(two_part=True, num_boost_round=60), "ltv", "T"
    ),
    "AttributeLogistic": scorer(AttributeLogistic, "churn", "region", high=1),
    "AttributeLGBM": scorer(lambda: AttributeLGBM(num_boost_round=60), "churn", "region", high=1),
    "TunedLGBM": scorer(lambda: TunedLGBM("churn", **TUNED), "churn", "T", high=1),
    "BetaGeoModel": btyd(BetaGeoModel, lambda m, X: m.p_any_purchase(HORIZON, _exposed(X)), high=1),
    "ParetoNBDModel": btyd(ParetoNBDModel, lambda m, X: m.expected_purchases(HORIZON, _exposed(X))),
    "GammaGammaModel": btyd(
        GammaGammaModel, lambda m, X: m.expected_spend(X), uses="monetary_value"
    ),
    "segments:KMeans": segments("kmeans", 1000),
    "segments:MiniBatchKMeans": segments("kmeans", LARGE + 1),
    "segments:GaussianMixture": segments("gmm", 1000),
}


def test_the_registry_is_complete() -> None:
    """Every scorer class the product has is a case here (and can be rebuilt from a spec)."""

    def subclasses(cls: type) -> set[type]:
        return {s for c in cls.__subclasses__() for s in {c, *subclasses(c)}}

    scorers = {  # the product's own (test doubles defined in tests are not scorers it ships)
        c
        for c in subclasses(Scorer)
        if not c.__name__.startswith("_") and c.__module__.startswith("customer_ml.")
    }
    assert {c.__name__ for c in scorers} - {"TunedLGBM"} == set(ALL_SCORERS)
    fitted_btyd = {
        c
        for c in subclasses(btyd_module._Fitted)
        if not c.__name__.startswith("_") and c.__module__.startswith("customer_ml.")
    }
    clusters = {
        type(make_segmenter(["recency_days"], k=2, algorithm=a, transform="log", n_rows=n)[-1])
        for a in GRID["algorithm"]
        for n in (10, LARGE + 1)
    }
    want = {c.__name__ for c in scorers | fitted_btyd} | {
        f"segments:{c.__name__}" for c in clusters
    }
    assert {name.split("(")[0] for name in CASES} == want


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request: pytest.FixtureRequest) -> tuple[str, Case, Any, np.ndarray]:
    case = CASES[request.param]
    est = case.make()
    assert case.fit(est, frames(cut_at_as_of=True)) is est  # fit returns self
    return request.param, case, est, np.asarray(case.predict(est, frames(cut_at_as_of=True).score))


def test_predictions_are_finite_one_per_row_and_in_range(fitted) -> None:  # type: ignore[no-untyped-def]
    _, case, _, pred = fitted
    assert pred.shape == (len(frames(cut_at_as_of=True).score),)
    assert np.isfinite(pred).all()
    assert (pred >= 0).all() and (pred <= case.high).all()
    assert len(np.unique(pred)) > 1  # it tells customers apart


def test_save_and_load_give_identical_predictions(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, case, est, pred = fitted
    loaded = case.save_load(est, tmp_path / "model")
    assert loaded is not est
    np.testing.assert_array_equal(case.predict(loaded, frames(cut_at_as_of=True).score), pred)
    if isinstance(est, Scorer) and not isinstance(est, TunedLGBM):
        assert from_spec(est.spec()).get_params() == est.get_params()


def test_later_transactions_do_not_change_predictions_as_of_d(fitted) -> None:  # type: ignore[no-untyped-def]
    _, case, _, pred = fitted
    full = frames(cut_at_as_of=False)
    est = case.fit(case.make(), full)
    np.testing.assert_array_equal(case.predict(est, full.score), pred)


def test_a_prediction_does_not_depend_on_the_rest_of_the_batch(fitted) -> None:  # type: ignore[no-untyped-def]
    _, case, est, pred = fitted
    X = frames(cut_at_as_of=True).score
    more = pd.concat([X, later_rows()], ignore_index=True)
    np.testing.assert_array_equal(case.predict(est, more)[: len(X)], pred)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(case.predict(est, X.iloc[order]), pred[order])


def test_bad_input_gets_a_predictable_error(fitted) -> None:  # type: ignore[no-untyped-def]
    _, case, est, _ = fitted
    X = frames(cut_at_as_of=True).score
    with pytest.raises(NotFittedError):
        case.predict(case.make(), X)
    with pytest.raises((KeyError, ValueError), match=case.uses):
        case.predict(est, X.drop(columns=[case.uses]))
