"""Unmodified numba code: every way compiled code creates an array, as a table.

Each entry: name -> (njit function of (a, b) with a, b float64 arrays of equal shape, how many
arrays it allocates at least). The functions never mention framealloc.
"""
from __future__ import annotations

import numba
import numpy as np


def _f(fn):
    return numba.njit(fn)


CREATIONS = {
    "empty": _f(lambda a, b: np.empty(a.shape[0])),
    "zeros": _f(lambda a, b: np.zeros(a.shape[0])),
    "ones": _f(lambda a, b: np.ones((a.shape[0], 2))),
    "full": _f(lambda a, b: np.full(a.shape[0], 3.5)),
    "empty_like": _f(lambda a, b: np.empty_like(a)),
    "zeros_like": _f(lambda a, b: np.zeros_like(a)),
    "ones_like": _f(lambda a, b: np.ones_like(a)),
    "expression": _f(lambda a, b: a * b + 1.0),
    "ufunc": _f(lambda a, b: np.sqrt(np.abs(a))),
    "array_literal": _f(lambda a, b: np.array([a[0], b[0], 3.0])),
    "copy": _f(lambda a, b: a.copy()),
    "concatenate": _f(lambda a, b: np.concatenate((a, b))),
    "stack": _f(lambda a, b: np.vstack((a, b))),
    "reduction_temp": _f(lambda a, b: np.array([np.sum(a * b), np.mean(a - b)])),
    "cumsum": _f(lambda a, b: np.cumsum(a)),
    "sort": _f(lambda a, b: np.sort(b)),
    "arange": _f(lambda a, b: np.arange(a.shape[0]) * 1.0),
    "linspace": _f(lambda a, b: np.linspace(0.0, 1.0, a.shape[0])),
    "outer": _f(lambda a, b: np.outer(a, b)),
    "where": _f(lambda a, b: np.where(a > b, a, b)),
    "reshape_copy": _f(lambda a, b: (a + b).reshape((a.shape[0], 1)).T.copy()),
    "transpose_expr": _f(lambda a, b: np.outer(a, b).T + 1.0),
    "fancy_index": _f(lambda a, b: a[np.argsort(b)]),
    "boolean_mask": _f(lambda a, b: a[a > 0.5]),
}
