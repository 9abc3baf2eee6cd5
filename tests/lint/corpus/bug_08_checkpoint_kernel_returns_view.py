"""Planted: a checkpointed kernel returns a frame view of its own frame (FA604)."""
import numpy as np
from numba import njit


@njit(nogil=True)
def best_candidate(a, x, candidates):
    a.begin_frame()
    best = a.frame_array(x.shape, x.dtype)
    best[:] = x
    best_err = np.inf
    for c in range(candidates.shape[0]):
        cp = a.frame_checkpoint()
        trial = a.frame_array(x.shape, x.dtype)
        np.add(x, candidates[c], trial)
        err = np.abs(trial).sum()
        if err < best_err:
            best_err = err
            best[:] = trial
        a.rollback_to(cp)
    a.end_frame()
    return best  # expect: FA604
