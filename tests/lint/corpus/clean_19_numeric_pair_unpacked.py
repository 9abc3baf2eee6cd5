"""`frame_alloc_2` of a numeric dtype unpacks into copies of the values."""
import numpy as np
from numba import njit


@njit(cache=True)
def _minmax(x, pair):
    pair[0] = x.min()
    pair[1] = x.max()


def value_range(alloc, x):
    with alloc.frame():
        pair = alloc.frame_alloc_2(np.float64)
        _minmax(x, pair)
        lo, hi = pair
    return lo, hi


def spread(alloc, x):
    alloc.begin_frame()
    pair = alloc.frame_alloc_2(np.float64)
    _minmax(x, pair)
    lo, hi = pair
    alloc.end_frame()
    return hi - lo
