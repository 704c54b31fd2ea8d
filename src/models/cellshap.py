"""Exact TreeSHAP for many rows at once, by tabulating each tree over the cells of its splits.

A tree's TreeSHAP vector for a row x (path-dependent, as LightGBM's ``pred_contrib`` and
``shap.TreeExplainer`` compute it) depends on x only through the side of each of the tree's
split thresholds on which every feature falls: its *cell*. Customers share cells: the 5,000
demo customers fall into a median of 640 distinct cells per 16-leaf tree of the LTV booster,
and 50 per tree of the churn booster. So, per tree: group the rows by cell, let LightGBM
compute the contributions of one real row per cell (``start_iteration=t, num_iteration=1``),
and give them to every row of that cell. Each tree's values are LightGBM's own; the sums over
trees differ from one ``pred_contrib`` call only in the order of the additions (~1e-15).

The prediction comes from the same cells: a cell lies in one leaf, so LightGBM's raw output
of the cell's row for the tree is the leaf value of all its rows. Summed in tree order from
0.0 and passed through the objective's output function (sigmoid, exp), as LightGBM's
``GBDT::Predict`` does, it equals ``booster.predict`` bit for bit. Objectives with another
output function (or averaged output) are predicted by LightGBM.

Missing values follow LightGBM's rules: a feature whose splits carry ``missing_type`` NaN
routes NaN by each node's default direction (NaN is a cell of its own); ``None`` compares NaN
as 0.0; ``Zero`` routes |x| <= 1e-35 and NaN by the default direction. Categorical splits,
linear trees and multiclass boosters are not tabulated: they are explained by ``pred_contrib``
directly, as are small batches.

Uses only the booster; the rows are whatever the caller passes (nothing about time).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

__all__ = ["CellShap", "cell_shap", "thread_limit"]

ZERO_THRESHOLD = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float)
MIN_ROWS = 2_000  # below this, one pred_contrib call is as fast
CHUNK_ROWS = 1 << 18  # rows tabulated at a time: bounded memory, cells still shared widely
MAX_DENSE = 1 << 16  # cells addressed directly up to this many per tree, hashed above
FEW_THRESHOLDS = 16  # a feature's classes by comparisons up to this many thresholds
MAX_GROUP = 1 << 32  # cell numbers of a group of features; groups are combined by hashing
_THREAD_LIMIT: contextvars.ContextVar[int] = contextvars.ContextVar("threads", default=1 << 10)


@dataclass
class _Group:
    features: list[int]
    luts: list[np.ndarray]  # per feature: global class -> local class x stride
    size: int  # number of cells (product of the local class counts)


@dataclass
class _Tree:
    index: int
    features: np.ndarray  # the features the tree splits on
    groups: list[_Group]  # features whose cell numbers fit an int64 together

    def __post_init__(self) -> None:
        self.size = float(np.prod([float(g.size) for g in self.groups]))  # cells in all


@dataclass
class _Feature:
    thresholds: np.ndarray  # every threshold of the feature over all trees, sorted
    zero_special: bool  # missing_type Zero: |x| <= 1e-35 (and NaN) is missing

    def __post_init__(self) -> None:
        self.bounds = np.append(self.thresholds, np.inf)  # NaN sorts after +inf


def _splits(node: dict[str, Any], out: dict[int, list[dict[str, Any]]]) -> None:
    if "split_feature" not in node:
        return
    out.setdefault(int(node["split_feature"]), []).append(node)
    _splits(node["left_child"], out)
    _splits(node["right_child"], out)


class CellShap:
    """Exact per-row TreeSHAP values of a LightGBM booster with numerical splits, computed
    once per (tree, cell) and shared by the rows of that cell (see the module docstring)."""

    def __init__(self, booster: lgb.Booster, *, threads: int = 2) -> None:
        self.booster = booster
        self.threads = max(1, threads)
        self.n_features = booster.num_feature()
        dump = booster.dump_model()
        per_tree = []
        for info in dump["tree_info"]:
            nodes: dict[int, list[dict[str, Any]]] = {}
            _splits(info["tree_structure"], nodes)
            per_tree.append(nodes)
        all_nodes = [n for t in per_tree for ns in t.values() for n in ns]
        self.tabulable = (
            all(n["decision_type"] == "<=" for n in all_nodes)
            and booster.num_model_per_iteration() == 1
            and not any(info.get("is_linear") for info in dump["tree_info"])
        )
        # trees without a split: their one leaf value (as LightGBM has it), which adds to the
        # expected value of the contributions and, in tree order, to the raw prediction
        self._leaf_of_constant = {
            i: float(info["tree_structure"]["leaf_value"])
            for i, (info, nodes) in enumerate(zip(dump["tree_info"], per_tree, strict=True))
            if not nodes
        }
        self.constant = sum(self._leaf_of_constant.values())
        self.features: dict[int, _Feature] = {}
        for f in sorted({f for t in per_tree for f in t}):
            ns = [n for t in per_tree for n in t.get(f, [])]
            self.features[f] = _Feature(
                thresholds=np.unique(np.array([n["threshold"] for n in ns], float)),
                zero_special=any(n["missing_type"] == "Zero" for n in ns),
            )
        self.trees = [self._tree(i, nodes) for i, nodes in enumerate(per_tree) if nodes]
        # a Booster is not safe to predict from two threads at once: one copy per thread
        text = booster.model_to_string()
        self.output = _output_function(text)
        self.n_trees = len(per_tree)
        self._copies = [booster] + [lgb.Booster(model_str=text) for _ in range(self.threads - 1)]

    def _threads(self) -> int:
        return max(1, min(self.threads, _THREAD_LIMIT.get()))

    def _tree(self, index: int, nodes: dict[int, list[dict[str, Any]]]) -> _Tree:
        groups = [_Group([], [], 1)]
        for f in sorted(nodes):
            feat = self.features[f]
            local = np.unique(np.array([n["threshold"] for n in nodes[f]], float))
            m = len(feat.thresholds)
            # global classes: 0..m intervals (x <= thresholds[i]; m: above all), m+1 NaN,
            # m+2 missing zero (missing_type Zero)
            lut = np.empty(m + 3, np.int64)
            lut[:m] = np.searchsorted(local, feat.thresholds, side="left")
            lut[m] = len(local)
            count = len(local) + 1
            if any(n["missing_type"] != "None" for n in nodes[f]):
                lut[m + 1] = lut[m + 2] = count  # routed by each node's default direction
                count += 1
            else:  # NaN compares as 0.0
                lut[m + 1] = lut[m + 2] = int(np.searchsorted(local, 0.0, side="left"))
            if groups[-1].size * count > MAX_GROUP:
                groups.append(_Group([], [], 1))
            g = groups[-1]
            g.features.append(f)
            g.luts.append(lut * g.size)
            g.size *= count
        return _Tree(index=index, features=np.array(sorted(nodes), np.int64), groups=groups)

    def classes(self, X: np.ndarray) -> dict[int, np.ndarray]:
        """Per feature the booster splits on: each row's global class (see `_tree`)."""

        def one(f: int) -> np.ndarray:
            feat = self.features[f]
            x = X[:, f]
            c = _interval(x, feat)
            if feat.zero_special:
                c[(np.abs(x) <= ZERO_THRESHOLD) | np.isnan(x)] = len(feat.bounds) + 1
            return c

        k = self._threads() if len(X) >= MIN_ROWS else 1  # searchsorted releases the GIL
        return dict(zip(self.features, _each(one, list(self.features), k), strict=True))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """``booster.predict(X, pred_contrib=True)``: per row, the features' SHAP values and
        the expected value in the last column (raw score space)."""
        return self._explain(np.asarray(X, dtype=float), predict=False)[1]

    def explain(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(booster.predict(X), booster.predict(X, pred_contrib=True))`` from one pass over
        the cells; the prediction is LightGBM's bit for bit (see the module docstring)."""
        pred, contrib = self._explain(np.asarray(X, dtype=float), predict=True)
        assert pred is not None
        return pred, contrib

    def _explain(self, X: np.ndarray, *, predict: bool) -> tuple[np.ndarray | None, np.ndarray]:
        """(the prediction if `predict`, else None; the contributions)"""
        if not self.tabulable or len(X) < MIN_ROWS:
            pred = np.asarray(self.booster.predict(X)) if predict else None
            return pred, np.asarray(self.booster.predict(X, pred_contrib=True))
        if predict and self.output is None:
            return np.asarray(self.booster.predict(X)), self._explain(X, predict=False)[1]
        if len(X) > CHUNK_ROWS:  # equal chunks: none falls under MIN_ROWS to pred_contrib
            chunks = _even(len(X), math.ceil(len(X) / CHUNK_ROWS))
            parts = [self._explain(X[lo:hi], predict=predict) for lo, hi in chunks]
            contrib = np.concatenate([c for _, c in parts])
            preds = [p for p, _ in parts if p is not None]
            return (np.concatenate(preds) if predict else None), contrib
        classes = self.classes(np.asfortranarray(X))  # contiguous columns (pandas gives them)
        k = self._threads()
        jobs = [(self._copies[i], self.trees[i::k]) for i in range(k)]
        found = _each(lambda job: self._tabulate(X, classes, job[0], job[1], predict), jobs, k)
        tables = {t.tree.index: t for part in found for t in part}
        # every row adds up its trees in tree order (LightGBM's order for the prediction)
        rows = _each(lambda b: self._accumulate(tables, b[0], b[1], predict), _even(len(X), k), k)
        contrib = _joined([c for c, _ in rows], axis=1)
        contrib[-1] += self.constant
        if not predict:
            return None, contrib.T
        assert self.output is not None
        raw = _joined([r for _, r in rows if r is not None], axis=0)
        return self.output(raw), contrib.T

    def _tabulate(
        self,
        X: np.ndarray,
        classes: dict[int, np.ndarray],
        booster: lgb.Booster,
        trees: list[_Tree],
        predict: bool,
    ) -> list[_Table]:
        """Per tree: every row's cell, and LightGBM's contributions (and, with `predict`, raw
        output) of one row per cell."""
        n = len(X)
        codes, scratch = np.empty(n, np.int64), np.empty(n, np.int64)
        out = []
        for tree in trees:
            reps = _cells(tree, classes, codes, scratch)
            rows = X[reps]
            contrib = _one_tree(booster, rows, tree.index, contrib=True)
            leaf = _one_tree(booster, rows, tree.index, contrib=False) if predict else None
            small = np.uint16 if len(reps) <= 1 << 16 else np.int64
            values = np.ascontiguousarray(contrib[:, tree.features].T)
            out.append(_Table(tree, codes.astype(small), values, float(contrib[0, -1]), leaf))
        return out

    def _accumulate(
        self, tables: dict[int, _Table], lo: int, hi: int, predict: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows lo..hi: the contributions (feature-major) and, with `predict`, the raw score,
        each tree added in tree order."""
        n = hi - lo
        out = np.zeros((self.n_features + 1, n))  # feature-major: each column contiguous
        raw = np.zeros(n) if predict else None
        values = np.empty(n)
        for t in range(self.n_trees):
            if t in self._leaf_of_constant:
                if raw is not None:
                    raw += self._leaf_of_constant[t]
                continue
            table = tables[t]
            cells = table.cells[lo:hi].astype(np.intp)
            for f, row in zip(table.tree.features, table.values, strict=True):
                np.take(row, cells, out=values, mode="clip")
                out[f] += values
            out[-1] += table.expected
            if raw is not None:
                assert table.leaf is not None
                np.take(table.leaf, cells, out=values, mode="clip")
                raw += values
        return out, raw


def _interval(x: np.ndarray, feat: _Feature) -> np.ndarray:
    """``np.searchsorted(feat.bounds, x, side="left")``: per value, how many bounds lie
    below it; NaN sorts after +inf. With a few thresholds (most features of most trees),
    counted by comparisons, which runs several times faster than a binary search."""
    if len(feat.thresholds) > FEW_THRESHOLDS:
        return np.searchsorted(feat.bounds, x, side="left")
    c = np.zeros(len(x), np.intp)
    for t in feat.thresholds.tolist():
        np.add(c, x > t, out=c)  # +inf lies below nothing
    c[np.isnan(x)] = len(feat.bounds)
    return c


def _even(n: int, k: int) -> list[tuple[int, int]]:
    """`k` contiguous ranges of 0..n, as equal as can be."""
    return [(i * n // k, (i + 1) * n // k) for i in range(k)]


def _joined(parts: list[np.ndarray], axis: int) -> np.ndarray:
    """``np.concatenate(parts, axis)``, without copying a single part."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)


def _each(fn: Callable[[Any], Any], items: list[Any], threads: int) -> list[Any]:
    """``[fn(x) for x in items]``, in `threads` threads when more than one."""
    if threads == 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def _one_tree(booster: lgb.Booster, X: np.ndarray, tree: int, *, contrib: bool) -> np.ndarray:
    """One tree's contributions (or raw output) for the rows of `X`, in this thread."""
    return np.asarray(
        booster.predict(
            X,
            pred_contrib=contrib,
            raw_score=not contrib,
            start_iteration=tree,
            num_iteration=1,
            num_threads=1,
        ),
        float,
    )


@dataclass
class _Table:
    tree: _Tree
    cells: np.ndarray  # each row's cell
    values: np.ndarray  # per feature of the tree, its contribution in each cell
    expected: float  # the tree's expected value
    leaf: np.ndarray | None  # the tree's raw output in each cell


def _cells(
    tree: _Tree, classes: dict[int, np.ndarray], ids: np.ndarray, scratch: np.ndarray
) -> np.ndarray:
    """Each row's cell number 0..k-1 into `ids`; returns one representative row per cell.
    (`scratch` is working space of the same size: no large temporary arrays.)"""
    n, size = len(ids), 1
    for g in tree.groups:
        if size > 1:
            ids *= g.size
        else:
            ids[:] = 0
        for f, lut in zip(g.features, g.luts, strict=True):
            np.take(lut, classes[f], out=scratch, mode="clip")
            ids += scratch  # ids < size * g.size <= max(n, MAX_DENSE) * MAX_GROUP
        size *= g.size
        if tree.size > MAX_DENSE:  # renumber the cells that occur: 0..k-1
            codes, uniques = pd.factorize(ids)
            ids[:] = codes
            size = len(uniques)
    if tree.size > MAX_DENSE:
        reps = np.empty(size, np.int64)
        reps[ids] = np.arange(n)  # any row of a cell represents it
        return reps
    rep = np.full(size, -1, np.int64)  # few possible cells: numbered directly
    rep[ids] = np.arange(n)
    present = np.flatnonzero(rep >= 0)
    number = np.zeros(size, np.int64)
    number[present] = np.arange(len(present))
    np.take(number, ids, out=scratch, mode="clip")
    ids[:] = scratch
    return rep[present]


def _output_function(model: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """The objective's output function as LightGBM's ``ConvertOutput`` computes it, or None
    where it is not one of these."""
    lines = dict(line.split("=", 1) for line in model.splitlines()[:40] if "=" in line)
    if "average_output" in model.split("\nTree=", 1)[0]:
        return None  # random forest: the sum is divided by the number of trees
    name, *options = lines.get("objective", "").split()
    opts = dict(o.split(":", 1) for o in options if ":" in o)
    if name == "binary":
        s = float(opts.get("sigmoid", 1.0))
        return lambda raw: 1.0 / (1.0 + _exp(-s * raw))
    if name in ("gamma", "tweedie", "poisson"):
        return _exp
    if name == "regression" and "sqrt" not in options:
        return lambda raw: raw
    return None


def _exp(x: np.ndarray) -> np.ndarray:
    """``std::exp`` of each value: numpy's exp where it agrees with the C library's (it does
    unless numpy uses its own SIMD version), else the C library's through `math.exp`."""
    if _numpy_exp_is_libm():
        return np.exp(x)
    return np.array([math.exp(v) for v in x.tolist()])


@functools.cache
def _numpy_exp_is_libm() -> bool:
    x = np.random.default_rng(0).uniform(-50, 50, 200_000)
    return bool(np.array_equal(np.exp(x), [math.exp(v) for v in x.tolist()]))


_CACHE: weakref.WeakKeyDictionary[lgb.Booster, CellShap] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """At most `threads` threads per `CellShap` call made in this context (e.g. one, when
    the rows are already split between processes, one per core)."""
    token = _THREAD_LIMIT.set(threads)
    try:
        yield
    finally:
        _THREAD_LIMIT.reset(token)


def cell_shap(booster: lgb.Booster) -> CellShap:
    """The booster's `CellShap` (built once per booster object)."""
    found = _CACHE.get(booster)
    if found is None:
        found = _CACHE[booster] = CellShap(booster)
    return found
