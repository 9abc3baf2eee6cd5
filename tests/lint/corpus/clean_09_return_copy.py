"""Compaction: the surviving prefix of a frame buffer is returned as a copy."""
import numpy as np
from numba import njit


@njit(cache=True)
def alive_indices(alloc, energy, threshold):
    alloc.begin_frame()
    idx = alloc.frame_array(energy.shape[0], np.int64)
    k = 0
    for i in range(energy.shape[0]):
        if energy[i] > threshold:
            idx[k] = i
            k += 1
    kept = idx[:k].copy()
    alloc.end_frame()
    return kept
