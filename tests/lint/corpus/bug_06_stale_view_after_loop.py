"""Planted: the last iteration's frame view is read after its frame ended (FA605)."""
import numpy as np
from numba import njit


@njit(cache=True)
def last_residual(alloc, x, steps):
    r = x
    for _ in range(steps):
        alloc.begin_frame()
        r = alloc.frame_array(x.shape[0], np.float64)
        r[:] = x - x.mean()
        x -= 0.5 * r
        alloc.end_frame()
    return np.abs(r).max()  # expect: FA605
