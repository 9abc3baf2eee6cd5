"""Planted: `acc += ...` keeps `acc` what it was, frame memory, which is read after the frame
ended (FA605)."""
import numpy as np
from numba import njit


@njit(cache=True)
def column_sums(alloc, x):
    alloc.begin_frame()
    acc = alloc.frame_zeros(x.shape[1], np.float64)
    for i in range(x.shape[0]):
        acc += x[i]
    alloc.end_frame()
    return acc.sum() / x.shape[0]  # expect: FA605
