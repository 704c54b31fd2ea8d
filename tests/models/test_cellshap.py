"""Tabulated TreeSHAP (`models.cellshap`) equals LightGBM's own pred_contrib row for row: with
missing values under each missing type, ties at thresholds, deep trees whose cell numbers
need hashing, any number of threads; and it falls back for categorical splits."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from customer_ml.models import cellshap
from customer_ml.models.cellshap import CellShap


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.exponential(60, n).round(),  # integer days: values equal to thresholds
            rng.poisson(3, n).astype(float),
            rng.gamma(2, 20, n),
            rng.normal(0, 1, n),  # thresholds on both sides of 0.0
            rng.choice([0.0, 1.0, 2.5], n),
        ]
    )
    X[::7, 2] = np.nan  # missing values in training, so splits carry missing_type NaN
    y = 0.02 * X[:, 0] - 0.4 * X[:, 1] + np.nan_to_num(X[:, 2]) / 40 + X[:, 3] ** 2
    y += rng.normal(0, 1, n)
    return X, y


def booster(X: np.ndarray, y: np.ndarray, **params: object) -> lgb.Booster:
    p = {"objective": "regression", "num_leaves": 15, "verbose": -1, "seed": 0} | params
    return lgb.train(p, lgb.Dataset(X, label=y), num_boost_round=30)


def new_rows(n: int, b: lgb.Booster) -> np.ndarray:
    X, _ = data(n, seed=1)
    X[::5, 3] = np.nan  # NaN where training had none (missing_type None: compared as 0.0)
    X[::11, 4] = 0.0
    # values exactly at thresholds (x <= threshold goes left)
    for f, thresholds in CellShap(b).features.items():
        X[3::17, f] = np.resize(thresholds.thresholds, len(X[3::17]))
    return X


@pytest.mark.parametrize("few", [0, 1000])  # classes by binary search / by comparisons
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_equals_pred_contrib_row_for_row(threads: int, few: int, monkeypatch) -> None:
    monkeypatch.setattr(cellshap, "FEW_THRESHOLDS", few)
    X, y = data(4000)
    b = booster(X, y)
    rows = new_rows(5000, b)
    got = CellShap(b, threads=threads).contributions(rows)
    want = b.predict(rows, pred_contrib=True)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.abs(got[:, :-1]).sum() > 0  # not all zero


@pytest.mark.parametrize("few", [0, 1000])
def test_classes_by_comparisons_equal_a_binary_search(few: int, monkeypatch) -> None:
    monkeypatch.setattr(cellshap, "FEW_THRESHOLDS", few)
    feature = cellshap._Feature(thresholds=np.array([-1.5, 0.0, 2.0, 7.25]), zero_special=False)
    x = np.array([-np.inf, -2, -1.5, -1.4, -0.0, 0.0, 1e-300, 2.0, 2.1, 7.25, 8, np.inf, np.nan])
    got = cellshap._interval(x, feature)
    np.testing.assert_array_equal(got, [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5])
    np.testing.assert_array_equal(got, np.searchsorted(feature.bounds, x, side="left"))


def test_zero_as_missing_and_deep_trees_that_need_hashing() -> None:
    X, y = data(4000)
    b = booster(X, y, zero_as_missing=True, num_leaves=63, min_data_in_leaf=5)
    shap = CellShap(b)
    assert any(f.zero_special for f in shap.features.values())
    assert max(t.size for t in shap.trees) > cellshap.MAX_DENSE  # the hashed path is used
    rows = new_rows(4000, b)
    rows[::13, 1] = 1e-36  # "zero" to LightGBM under missing_type Zero
    want = b.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(shap.contributions(rows), want, rtol=0, atol=1e-12)


def test_shares_work_between_rows_of_one_cell() -> None:
    X, y = data(4000)
    b = booster(X, y)
    shap = CellShap(b, threads=1)
    rows = new_rows(20_000, b)
    classes = shap.classes(rows)
    ids, scratch = np.empty(len(rows), np.int64), np.empty(len(rows), np.int64)
    reps = [len(cellshap._cells(t, classes, ids, scratch)) for t in shap.trees]
    assert max(reps) < len(rows) / 10  # LightGBM explains far fewer rows than there are


def test_categorical_splits_and_small_batches_use_pred_contrib(monkeypatch) -> None:
    X, y = data(3000)
    X[:, 4] = np.floor(X[:, 4] * 2)  # 0, 2, 5 as categories
    y = y + 3 * (X[:, 4] == 2)
    b = lgb.train(
        {"objective": "regression", "verbose": -1, "min_data_per_group": 5},
        lgb.Dataset(X, label=y, categorical_feature=[4]),
        num_boost_round=10,
    )
    shap = CellShap(b)
    assert not shap.tabulable
    rows = X[:2500]
    np.testing.assert_array_equal(shap.contributions(rows), b.predict(rows, pred_contrib=True))
    small = CellShap(booster(*data(3000)))
    called = []
    monkeypatch.setattr(cellshap, "_cells", lambda *a: called.append(1))
    small.contributions(rows[:10])
    assert not called


def test_a_tree_without_splits_adds_to_the_expected_value() -> None:
    X, y = data(3000)
    # the first booster cannot split (min_data_in_leaf), so its one tree is a constant
    first = lgb.train(
        {"objective": "regression", "verbose": -1, "min_data_in_leaf": 2000},
        lgb.Dataset(X, label=y),
        num_boost_round=3,
    )
    b = lgb.train(
        {"objective": "regression", "verbose": -1, "num_leaves": 7},
        lgb.Dataset(X, label=y),
        num_boost_round=3,
        init_model=first,
    )
    assert "split_feature" not in b.dump_model()["tree_info"][0]["tree_structure"]
    want = b.predict(X, pred_contrib=True)
    np.testing.assert_allclose(CellShap(b).contributions(X), want, rtol=0, atol=1e-12)


def test_multiclass_boosters_use_pred_contrib() -> None:
    X, y = data(3000)
    b = booster(
        X, np.digitize(y, np.quantile(y, [0.33, 0.66])), objective="multiclass", num_class=3
    )
    shap = CellShap(b)
    assert not shap.tabulable
    np.testing.assert_array_equal(shap.contributions(X), b.predict(X, pred_contrib=True))


def test_large_batches_are_tabulated_in_chunks(monkeypatch) -> None:
    X, y = data(4000)
    b = booster(X, y)
    rows = new_rows(7000, b)
    monkeypatch.setattr(cellshap, "CHUNK_ROWS", 2500)  # equal chunks of 2333, 2333, 2334 rows
    got = CellShap(b).contributions(rows)
    np.testing.assert_allclose(got, b.predict(rows, pred_contrib=True), rtol=0, atol=1e-12)


def test_no_chunk_is_left_small_enough_for_pred_contrib(monkeypatch) -> None:
    X, y = data(4000)
    b = booster(X, y)
    rows = new_rows(5100, b)
    # chunks of 1700, not 2500 + 2500 + a tail of 100 that one pred_contrib call would explain
    monkeypatch.setattr(cellshap, "CHUNK_ROWS", 2500)
    monkeypatch.setattr(cellshap, "MIN_ROWS", 1000)
    calls: list[dict[str, object]] = []
    predict = b.predict

    def spy(data: np.ndarray, **kw: object) -> np.ndarray:
        calls.append(kw)
        return predict(data, **kw)

    monkeypatch.setattr(b, "predict", spy)
    got = CellShap(b, threads=1).contributions(rows)
    assert calls and all("num_iteration" in kw for kw in calls)  # one tree at a time: cells
    np.testing.assert_allclose(got, predict(rows, pred_contrib=True), rtol=0, atol=1e-12)


def label(y: np.ndarray, objective: str) -> np.ndarray:
    if objective == "binary":
        return (y > np.median(y)).astype(float)
    if objective in ("gamma", "tweedie", "poisson"):
        return np.exp(y / 4)  # positive
    return y


@pytest.mark.parametrize(
    ("objective", "params"),
    [
        ("binary", {}),
        ("binary", {"sigmoid": 0.7}),
        ("gamma", {}),
        ("tweedie", {"tweedie_variance_power": 1.3}),
        ("poisson", {}),
        ("regression", {}),
        ("huber", {}),  # another output function: LightGBM predicts
    ],
)
@pytest.mark.parametrize("threads", [1, 2])
def test_predictions_equal_lightgbm_bit_for_bit(
    objective: str, params: dict[str, float], threads: int
) -> None:
    X, y = data(4000)
    b = booster(X, label(y, objective), objective=objective, **params)
    rows = new_rows(6000, b)
    pred, contrib = CellShap(b, threads=threads).explain(rows)
    np.testing.assert_array_equal(pred, b.predict(rows))
    np.testing.assert_allclose(contrib, b.predict(rows, pred_contrib=True), rtol=0, atol=1e-12)
    assert len(np.unique(pred)) > 100  # rows are told apart


def test_predictions_with_constant_trees_in_chunks_and_for_random_forests(monkeypatch) -> None:
    X, y = data(3000)
    first = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 2000},
        lgb.Dataset(X, label=label(y, "binary")),
        num_boost_round=2,
    )
    b = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 7},
        lgb.Dataset(X, label=label(y, "binary")),
        num_boost_round=5,
        init_model=first,
    )
    monkeypatch.setattr(cellshap, "CHUNK_ROWS", 2500)
    rows = new_rows(6000, b)
    np.testing.assert_array_equal(CellShap(b).explain(rows)[0], b.predict(rows))
    rf = booster(X, y, boosting="rf", bagging_freq=1, bagging_fraction=0.5)
    shap = CellShap(rf)
    assert shap.output is None  # the averaged output is LightGBM's to compute
    np.testing.assert_array_equal(shap.explain(rows)[0], rf.predict(rows))
