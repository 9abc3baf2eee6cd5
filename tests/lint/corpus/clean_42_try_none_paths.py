"""`try_` frame allocations with a heap fallback; every path ends the frame."""
import numpy as np


def convolve(alloc, x, kernel):
    n, k = x.shape[0], kernel.shape[0]
    alloc.begin_frame()
    try:
        buf = alloc.try_frame_array(n + k - 1, np.float64)
        if buf is None:
            return np.convolve(x, kernel)
        buf[:] = 0.0
        for i in range(n):
            buf[i:i + k] += x[i] * kernel
        return buf.copy()
    finally:
        alloc.end_frame()
