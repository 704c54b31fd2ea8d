"""Text columns built in Arrow from codes: a few distinct strings, copied per row in C++
rather than as one Python object per row (200,000 rows: milliseconds, not tens of them)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["first_rows", "list_array", "round_bits", "text_array"]


def first_rows(codes: np.ndarray, n: int) -> np.ndarray:
    """For each of `n` codes (0..n-1, each present), the first row that has it: the row to
    render that code's text from."""
    first = np.empty(n, np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return first


def text_array(codes: np.ndarray, labels: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """``labels[code]`` per row, as a pandas string array."""
    return pd.array(_taken(codes, labels), dtype="str")


def list_array(
    counts: np.ndarray, codes: np.ndarray, labels: Sequence[str]
) -> pd.api.extensions.ExtensionArray:
    """Per row, a list of `counts[row]` strings: ``labels[code]`` for the next codes of
    `codes` (row after row). Each row's element reads as a Python list."""
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    items = _taken(codes, labels)
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(pa.array(offsets), items))


def _taken(codes: np.ndarray, labels: Sequence[str]) -> pa.Array:
    return pa.array(list(labels), pa.string()).take(pa.array(np.asarray(codes, np.int64)))


def round_bits(values: np.ndarray | pd.Series, bits: int = 40) -> np.ndarray:
    """Values rounded to `bits` significant bits (40: about 12 digits). Sums of the same
    amounts added in another order (another engine, another thread count) differ in the last
    bits; rounded, they compare and fit alike."""
    mantissa, exponent = np.frexp(np.asarray(values, float))
    return np.ldexp(np.round(mantissa * 2.0**bits) / 2.0**bits, exponent)
