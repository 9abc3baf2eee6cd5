"""Damped relaxation: each update of the state is an augmented assignment from frame temporaries."""
import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def relax(alloc, x, rhs, steps, omega):
    n = x.shape[0]
    for _ in range(steps):
        alloc.begin_frame()
        lap = alloc.frame_array(n, np.float64)
        lap[0] = 0.0
        lap[n - 1] = 0.0
        for i in range(1, n - 1):
            lap[i] = x[i - 1] - 2.0 * x[i] + x[i + 1]
        resid = alloc.frame_array(n, np.float64)
        resid[:] = rhs
        resid -= lap
        x -= omega * resid
        scale = alloc.frame_zeros(n, np.float64)
        scale += 1.0 - 1e-3
        x *= scale
        x /= 1.0 + omega
        alloc.end_frame()
    return x
