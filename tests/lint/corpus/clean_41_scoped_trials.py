"""Candidate steps evaluated in nested scopes and checkpoints; only values computed inside leave."""
import numpy as np


def pick_step(alloc, x, grad, loss, steps):
    with alloc.frame():
        best = alloc.frame_array(x.shape, x.dtype)
        best[:] = x
        best_loss = loss(x)
        for step in steps:
            with alloc.scope():
                trial = alloc.frame_array(x.shape, x.dtype)
                np.multiply(grad, -step, out=trial)
                trial += x
                value = loss(trial)
                if value < best_loss:
                    best[:] = trial
                    best_loss = value
        cp = alloc.frame_checkpoint()
        delta = alloc.frame_array(x.shape, x.dtype)
        np.subtract(best, x, out=delta)
        change = float(np.abs(delta).max())
        alloc.rollback_to(cp)
        x[...] = best
        return best_loss, change
