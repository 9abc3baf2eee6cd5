"""Planted: a line search keeps the view of a rejected trial past the rollback (FA605)."""
import numpy as np


def line_search(alloc, x, direction, loss, steps):
    with alloc.frame():
        best = alloc.frame_array(x.shape, x.dtype)
        best[:] = x
        best_loss = loss(x)
        last = best
        for step in steps:
            cp = alloc.frame_checkpoint()
            trial = alloc.frame_array(x.shape, x.dtype)
            np.multiply(direction, step, out=trial)
            trial += x
            value = loss(trial)
            if value < best_loss:
                best[:] = trial
                best_loss = value
            last = trial
            alloc.rollback_to(cp)
        x[:] = best
        return float(last.sum())  # expect: FA605
