"""Planted: the `try_` failure path returns without ending the frame (FA606)."""
import numpy as np
from numba import njit


@njit(cache=True)
def dilate(alloc, mask, out):
    n = mask.shape[0]
    alloc.begin_frame()  # expect: FA606
    buf = alloc.try_frame_array(n, np.uint8)
    if buf is None:
        return -1
    buf[:] = mask
    for i in range(1, n - 1):
        out[i] = buf[i - 1] | buf[i] | buf[i + 1]
    alloc.end_frame()
    return 0
