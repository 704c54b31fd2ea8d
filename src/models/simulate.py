"""Customers drawn from the BTYD models themselves: the truth for tests and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_bgnbd", "simulate_pareto"]

Simulated = tuple[pd.DataFrame, np.ndarray]


def _run(
    rng: np.random.Generator,
    lam: np.ndarray,
    T: np.ndarray,
    t: float,
    *,
    death: np.ndarray | None = None,
    dropout: np.ndarray | None = None,
) -> Simulated:
    """Poisson purchases at rate `lam` from time 0 until death (a time, or a dropout chance
    after each purchase); returns (summary at T, purchases in (T, T + t])."""
    n = len(lam)
    end = T + t if death is None else np.minimum(death, T + t)
    now, x, last, future = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    going = np.ones(n, bool)
    while going.any():
        now = now + rng.exponential(1 / lam)
        going &= now <= end
        cal = going & (now <= T)
        x[cal] += 1
        last[cal] = now[cal]
        future[going & (now > T)] += 1
        if dropout is not None:
            going &= rng.random(n) > dropout
    return pd.DataFrame({"frequency": x, "recency": last, "T": T}), future


def simulate_bgnbd(
    n: int,
    *,
    params: tuple[float, float, float, float] = (0.6, 5.0, 0.8, 3.0),
    T: float | np.ndarray = 40.0,
    t: float = 30.0,
    seed: int = 0,
) -> Simulated:
    """BG/NBD customers (r, alpha, a, b) born at 0: (summary at T, purchases in (T, T+t])."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = params
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    return _run(rng, lam, np.broadcast_to(np.asarray(T, float), n).copy(), t, dropout=p)


def simulate_pareto(
    n: int,
    *,
    params: tuple[float, float, float, float] = (0.6, 5.0, 0.7, 8.0),
    T: float | np.ndarray = 40.0,
    t: float = 30.0,
    seed: int = 0,
) -> Simulated:
    """Pareto/NBD customers (r, alpha, s, beta) born at 0: (summary at T, purchases in
    (T, T+t])."""
    rng = np.random.default_rng(seed)
    r, alpha, s, beta = params
    lam = rng.gamma(r, 1 / alpha, n)
    death = rng.exponential(1 / rng.gamma(s, 1 / beta, n))
    return _run(rng, lam, np.broadcast_to(np.asarray(T, float), n).copy(), t, death=death)
