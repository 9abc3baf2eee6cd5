"""Planted: the early exit of a convergence loop leaves the frame open (FA606)."""
import numpy as np
from numba import njit


@njit(cache=True)
def solve(alloc, A, b, x, tol, max_steps):
    for _ in range(max_steps):
        alloc.begin_frame()  # expect: FA606
        r = alloc.frame_array(b.shape[0], np.float64)
        r[:] = b - A @ x
        err = np.abs(r).max()
        if err < tol:
            break
        x += 0.1 * r
        alloc.end_frame()
    return x
