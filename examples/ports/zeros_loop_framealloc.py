"""A fresh zeroed array per iteration, ported to framealloc.

Port of zeros_loop_original.py (numba issue #9132's ``alloc_new`` loop). Only the temporary
changes: ``np.zeros`` becomes ``alloc.frame_zeros`` inside a scope per iteration, so every
iteration reuses the same frame memory (call it inside a frame).
"""
import numpy as np
from numba import njit


@njit
def alloc_new(alloc, shape, reps):
    total = 0
    for r in range(reps):
        s = alloc.scope_begin()
        a = alloc.frame_zeros(shape, np.int64)
        a[r % shape[0], r % shape[1]] = 1
        total += a.sum()
        alloc.scope_end(s)
    return total
