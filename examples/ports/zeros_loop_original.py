"""A fresh zeroed array per iteration (the original).

Source: the ``alloc_new`` loop of numba issue #9132 ("Delegate np.zeros to numpy"), re-typed
and scaled down (the issue uses (10000, 10000) int64 arrays): each iteration allocates a zeroed
array, writes one element and keeps the last one. zeros_loop_framealloc.py is the port.
"""
import numpy as np
from numba import njit


@njit
def alloc_new(shape, reps):
    total = 0
    for r in range(reps):
        a = np.zeros(shape, dtype=np.int64)
        a[r % shape[0], r % shape[1]] = 1
        total += a.sum()
    return total
