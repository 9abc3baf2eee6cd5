"""Per-row scratch under a checkpoint in each iteration of a serial loop around a prange kernel."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def row_norms(alloc, m, out):
    for i in prange(m.shape[0]):
        sq = alloc.try_frame_array(m.shape[1], np.float64)
        if sq is None:
            out[i] = np.sqrt((m[i] * m[i]).sum())
        else:
            np.multiply(m[i], m[i], sq)
            out[i] = np.sqrt(sq.sum())


@njit(cache=True)
def batched(alloc, mats, out):
    alloc.begin_frame()
    for k in range(mats.shape[0]):
        cp = alloc.frame_checkpoint()
        row = alloc.frame_array(mats.shape[1], np.float64)
        row_norms(alloc, mats[k], row)
        out[k] = row
        alloc.rollback_to(cp)
    alloc.end_frame()
    return out
