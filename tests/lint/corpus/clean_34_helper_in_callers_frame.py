"""A helper that allocates in its caller's frame returns the frame view on purpose."""
import numpy as np
from numba import njit


@njit(inline="always")
def gradient(alloc, f, h):
    g = alloc.frame_array(f.shape[0] - 1, np.float64)
    for i in range(g.shape[0]):
        g[i] = (f[i + 1] - f[i]) / h
    return g


@njit(cache=True)
def steepest(alloc, f, h):
    alloc.begin_frame()
    g = gradient(alloc, f, h)
    k = np.argmax(np.abs(g))
    alloc.end_frame()
    return k
