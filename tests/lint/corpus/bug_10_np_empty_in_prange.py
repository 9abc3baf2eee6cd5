"""Planted: a heap allocation on every prange iteration of an @njit kernel (FA607)."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def pairwise_min(pts, out):
    n = pts.shape[0]
    for i in prange(n):
        d = np.empty(n, np.float64)  # expect: FA607
        for j in range(n):
            d[j] = ((pts[i] - pts[j]) ** 2).sum()
        d[i] = np.inf
        out[i] = d.min()
    return out
