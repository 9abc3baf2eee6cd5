"""Max-abs normalisation through a frame buffer filled with `np.abs(..., out=)`."""
import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def normalize(alloc, x):
    alloc.begin_frame()
    mag = alloc.frame_array(x.shape, x.dtype)
    np.abs(x, out=mag)
    m = mag.max()
    if m > 0:
        x /= m
    alloc.end_frame()
    return x
