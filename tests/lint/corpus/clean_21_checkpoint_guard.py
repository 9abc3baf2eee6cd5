"""Speculative update under a checkpoint guard: committed into the caller's array or rolled back."""
import numpy as np


def try_update(alloc, x, candidate_fn, tol):
    with alloc.frame():
        with alloc.checkpoint_guard() as guard:
            cand = alloc.frame_array(x.shape, x.dtype)
            cand[:] = candidate_fn(x)
            delta = alloc.frame_array(x.shape, x.dtype)
            np.subtract(cand, x, out=delta)
            if np.abs(delta).max() < tol:
                x += delta
                guard.commit()
                return True
        return False
