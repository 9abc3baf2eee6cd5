"""Planted: a prange kernel reads its `try_` scratch after the frame ended (FA605)."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def row_max(alloc, m, out):
    alloc.begin_frame()
    best = alloc.try_frame_array(m.shape[0], np.float64)
    if best is None:
        alloc.end_frame()
        return -1.0
    for i in prange(m.shape[0]):
        best[i] = m[i].max()
        out[i] = best[i]
    alloc.end_frame()
    return best[0]  # expect: FA605
