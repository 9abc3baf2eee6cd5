"""Ufuncs with the output array passed positionally (`np.subtract(x, t, x)`)."""
import numpy as np
from numba import njit


@njit(cache=True)
def center_and_scale(alloc, x):
    alloc.begin_frame()
    mean = alloc.frame_zeros(x.shape[1], np.float64)
    for i in range(x.shape[0]):
        np.add(mean, x[i], mean)
    np.divide(mean, x.shape[0], mean)
    for i in range(x.shape[0]):
        np.subtract(x[i], mean, x[i])
    spread = alloc.frame_array(x.shape, x.dtype)
    np.abs(x, spread)
    np.divide(x, spread.max() + 1e-12, x)
    alloc.end_frame()
    return x
