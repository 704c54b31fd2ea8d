"""Candidate generators: each scores every (customer, product) pair of a block of customers.

All of them are fitted on an :class:`~customer_ml.recs.interactions.Interactions` as of a
date, so they see rows with ``ts <= as_of`` only, and keep product-side state only (no
customer's history or factors): `scores` reads a customer's own history from the
interactions it is given, so a fitted generator scores customers it never saw. Scores come in
dense blocks of customers (rows) by products (columns); a caller takes the top of each row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from customer_ml.recs.interactions import Interactions

__all__ = [
    "GENERATORS",
    "Basket",
    "CoOccurrence",
    "Generator",
    "MatrixFactorisation",
    "Popularity",
    "Repeat",
]


@dataclass
class Generator:
    """Base: `fit` learns from purchases up to as_of; `scores` gives a dense block."""

    name: str = "base"

    def fit(self, it: Interactions) -> Generator:
        raise NotImplementedError

    def scores(self, it: Interactions, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass
class Popularity(Generator):
    """Customer-days bought per product in the last `days` days (the same list for everyone);
    ``trend_`` is that count against the `days` before it."""

    name: str = "popularity"
    days: int = 30
    pop_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    trend_: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def fit(self, it: Interactions) -> Popularity:
        recent, before = it.item_days(self.days), it.item_days(2 * self.days, self.days)
        ever = it.matrix().sum(axis=0).A1
        self.pop_ = (recent + 1e-3 * ever / max(1, it.n_customers)).astype(np.float32)
        self.trend_ = np.log((recent + 1.0) / (before + 1.0)).astype(np.float32)
        return self

    def scores(self, it: Interactions, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.pop_, (len(rows), it.n_items)).copy()


@dataclass
class Repeat(Generator):
    """The customer's own products: days bought, with recently bought ones first."""

    name: str = "repeat"

    def fit(self, it: Interactions) -> Repeat:
        return self

    def scores(self, it: Interactions, rows: np.ndarray) -> np.ndarray:
        m = it.matrix()[rows].toarray()
        last = it.matrix("last_day")[rows].toarray()
        age = np.where(m > 0, it.day - last, np.inf)
        return m + 1.0 / (2.0 + age)  # ties broken by recency; 0 for products never bought


def _binary(m: sp.csr_matrix) -> sp.csr_matrix:
    m = m.copy()
    m.data[:] = 1.0
    return m


def _keep_top(m: sp.csr_matrix, n: int, block: int = 1024) -> sp.csr_matrix:
    """Each row's `n` largest entries, `block` rows at a time made dense (memory grows
    with block x columns, not with the square of the catalogue)."""
    m = m.tocsr()
    if m.shape[1] <= n:
        return m
    parts = []
    for start in range(0, m.shape[0], block):
        d = m[start : start + block].toarray()
        top = np.argpartition(-d, n, axis=1)[:, :n]
        keep = np.zeros_like(d, dtype=bool)
        np.put_along_axis(keep, top, True, axis=1)
        parts.append(sp.csr_matrix(np.where(keep, d, 0.0).astype(np.float32)))
    return sp.vstack(parts, format="csr")


def _cosine(b: sp.csr_matrix, neighbours: int) -> sp.csr_matrix:
    """Item-item cosine similarity of the rows of binary `b`, each item's top neighbours."""
    co = (b.T @ b).tocsr().astype(np.float32)
    norm = 1 / (np.sqrt(co.diagonal()) + 1e-9)
    co = (sp.diags(norm) @ co @ sp.diags(norm)).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    return _keep_top(co, neighbours)


@dataclass
class CoOccurrence(Generator):
    """Item-item cosine similarity of who bought what; a customer's score sums the
    similarities to the products they bought, weighted by log(1 + days bought). Each product
    keeps its `neighbours` most similar products (item-kNN), so memory grows with the catalogue,
    not with its square."""

    name: str = "cooccurrence"
    neighbours: int = 100
    sim_: sp.csr_matrix | None = None

    def fit(self, it: Interactions) -> CoOccurrence:
        self.sim_ = _cosine(_binary(it.matrix()), self.neighbours)
        return self

    def weights(self, it: Interactions, rows: np.ndarray) -> sp.csr_matrix:
        w = it.matrix()[rows].copy()
        w.data = np.log1p(w.data)
        return w

    def scores(self, it: Interactions, rows: np.ndarray) -> np.ndarray:
        assert self.sim_ is not None
        return np.asarray((self.weights(it, rows) @ self.sim_).todense())


@dataclass
class Basket(CoOccurrence):
    """Products bought in the same basket (customer-day) in the last `window_days` days, by
    cosine similarity; a customer's score sums the similarities to their own products, each
    weighted by 30 / (30 + days since they last bought it), so recent baskets count most."""

    name: str = "basket"
    window_days: int = 180

    def fit(self, it: Interactions) -> Basket:
        e = it.events[it.day - it.events.day.to_numpy() < self.window_days]
        basket = e.cust.to_numpy(np.int64) * (it.day + 1) + e.day.to_numpy()
        codes = np.unique(basket, return_inverse=True)[1]
        b = sp.csr_matrix(
            (np.ones(len(e), np.float32), (codes, e.item.to_numpy())),
            shape=(int(codes.max()) + 1 if len(codes) else 0, it.n_items),
        )
        self.sim_ = _cosine(b, self.neighbours)
        return self

    def weights(self, it: Interactions, rows: np.ndarray) -> sp.csr_matrix:
        w = it.matrix("last_day")[rows].copy()
        w.data = 30.0 / (30.0 + it.day - w.data)
        return w


@dataclass
class MatrixFactorisation(Generator):
    """Implicit-feedback ALS (the `implicit` library) on log-scaled purchase days. Only the
    product factors are kept: a customer's factors are solved from their own history when
    scored (the least-squares step of ALS, `recalculate_user`), the same at fit and later."""

    name: str = "als"
    factors: int = 32
    regularization: float = 0.05
    alpha: float = 10.0
    iterations: int = 15
    seed: int = 42
    model_: Any = None

    @staticmethod
    def _confidence(it: Interactions, rows: np.ndarray | None = None) -> sp.csr_matrix:
        m = it.matrix() if rows is None else it.matrix()[rows]
        m = m.copy()
        m.data = np.log1p(m.data).astype(np.float32)
        return m

    def fit(self, it: Interactions) -> MatrixFactorisation:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit warns about (and is slowed by) BLAS threads
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=1,
            )
            model.fit(self._confidence(it), show_progress=False)
        model.user_factors = np.zeros((0, model.factors), np.float32)  # product side only
        self.model_ = model
        return self

    def scores(self, it: Interactions, rows: np.ndarray) -> np.ndarray:
        assert self.model_ is not None, "fit first"
        user = self.model_.recalculate_user(np.arange(len(rows)), self._confidence(it, rows))
        return np.asarray(user @ self.model_.item_factors.T)


GENERATORS: dict[str, type[Generator]] = {
    "popularity": Popularity,
    "repeat": Repeat,
    "cooccurrence": CoOccurrence,
    "basket": Basket,
    "als": MatrixFactorisation,
}
