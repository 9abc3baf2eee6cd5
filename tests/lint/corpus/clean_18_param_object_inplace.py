"""A step function that opens the frame and updates the caller's state object in place."""
import numpy as np


def step(alloc, state, dt):
    with alloc.frame():
        grad = alloc.frame_array(state.x.shape, np.float64)
        grad[:] = 2.0 * state.x
        state.x -= dt * grad
        state.momentum *= 0.9
        state.momentum += grad
        state.loss = float((state.x ** 2).sum())
    return state.loss
