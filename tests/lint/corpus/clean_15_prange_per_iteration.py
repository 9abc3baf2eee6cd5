"""One frame per outer step, one frame allocation per prange iteration, results stored per row."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def pairwise_min(alloc, pts, out, frames):
    n = pts.shape[0]
    for _ in range(frames):
        alloc.begin_frame()
        for i in prange(n):
            d = alloc.frame_array(n, np.float64)
            for j in range(n):
                d[j] = ((pts[i] - pts[j]) ** 2).sum()
            d[i] = np.inf
            out[i] = d.min()
        alloc.end_frame()
    return out
