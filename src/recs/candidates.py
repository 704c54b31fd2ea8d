"""Candidate generators: each scores every (customer, product) pair of a block of customers.

All of them are fitted on an :class:`~customer_ml.recs.interactions.Interactions` as of a
date, so they see rows with ``ts <= as_of`` only. Scores come in dense blocks of customers
(rows) by products (columns); a caller takes the top of each row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from customer_ml.recs.interactions import Interactions

__all__ = ["GENERATORS", "CoOccurrence", "Generator", "MatrixFactorisation", "Popularity", "Repeat"]


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
    """Customer-days bought per product in the recent window (the same list for everyone)."""

    name: str = "popularity"
    pop_: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def fit(self, it: Interactions) -> Popularity:
        self.pop_ = it.recent.astype(np.float32) + 1e-3 * it.matrix().sum(axis=0).A1 / max(
            1, it.n_customers
        )
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


def _binary(it: Interactions) -> sp.csr_matrix:
    m = it.matrix().copy()
    m.data[:] = 1.0
    return m


def _keep_top(m: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Each row's `n` largest entries."""
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        d, c = m.data[lo:hi], m.indices[lo:hi]
        if len(d) > n:
            keep = np.argpartition(-d, n)[:n]
            d, c = d[keep], c[keep]
        rows.append(np.full(len(d), r, np.int32))
        cols.append(c)
        vals.append(d)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape
    )


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
        b = _binary(it)
        co = (b.T @ b).tocsr().astype(np.float32)
        norm = np.sqrt(co.diagonal()) + 1e-9
        co = sp.diags(1 / norm) @ co @ sp.diags(1 / norm)
        co = co.tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        self.sim_ = _keep_top(co, self.neighbours)
        return self

    def weights(self, it: Interactions, rows: np.ndarray) -> sp.csr_matrix:
        w = it.matrix()[rows].copy()
        w.data = np.log1p(w.data)
        return w

    def scores(self, it: Interactions, rows: np.ndarray) -> np.ndarray:
        assert self.sim_ is not None
        return np.asarray((self.weights(it, rows) @ self.sim_).todense())


@dataclass
class MatrixFactorisation(Generator):
    """Implicit-feedback ALS (the `implicit` library) on log-scaled purchase days."""

    name: str = "als"
    factors: int = 32
    regularization: float = 0.05
    alpha: float = 10.0
    iterations: int = 15
    seed: int = 42
    user_: np.ndarray | None = None
    item_: np.ndarray | None = None

    def fit(self, it: Interactions) -> MatrixFactorisation:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        m = it.matrix().copy()
        m.data = np.log1p(m.data).astype(np.float32)
        with threadpool_limits(1, "blas"):  # implicit warns about (and is slowed by) BLAS threads
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=1,
            )
            model.fit(m, show_progress=False)
        self.user_, self.item_ = np.asarray(model.user_factors), np.asarray(model.item_factors)
        return self

    def scores(self, it: Interactions, rows: np.ndarray) -> np.ndarray:
        assert self.user_ is not None and self.item_ is not None
        return self.user_[rows] @ self.item_.T


GENERATORS: dict[str, type[Generator]] = {
    "popularity": Popularity,
    "repeat": Repeat,
    "cooccurrence": CoOccurrence,
    "als": MatrixFactorisation,
}
