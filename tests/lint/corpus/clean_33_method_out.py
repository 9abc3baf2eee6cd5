"""Array methods with `out=` write into the caller's arrays; the result aliases `out`."""
import numpy as np
from numba import njit


@njit(cache=True)
def column_summary(alloc, x, lo, hi, col_sum):
    alloc.begin_frame()
    centered = alloc.frame_array(x.shape, np.float64)
    centered[:] = x - x.mean()
    res = centered.sum(axis=0, out=col_sum)
    clipped = alloc.frame_array(x.shape, np.float64)
    centered.clip(lo, hi, out=clipped)
    peak = clipped.max()
    alloc.end_frame()
    return res, peak
