"""`np.copyto` from a frame scratch buffer into a persistent array."""
import numpy as np
from numba import njit


@njit(cache=True)
def prefix_sum(alloc, x):
    alloc.begin_frame()
    scratch = alloc.frame_array(x.shape[0], x.dtype)
    running = 0.0
    for i in range(x.shape[0]):
        running += x[i]
        scratch[i] = running
    np.copyto(x, scratch)
    alloc.end_frame()
    return x
