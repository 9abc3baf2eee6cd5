"""Explicit Euler step written with ufuncs and `out=`: results land in the caller's arrays."""
import numpy as np
from numba import njit


@njit(cache=True)
def euler(alloc, pos, vel, force, mass, dt, steps):
    for _ in range(steps):
        alloc.begin_frame()
        acc = alloc.frame_array(force.shape, np.float64)
        np.divide(force, mass, out=acc)
        np.multiply(acc, dt, out=acc)
        np.add(vel, acc, out=vel)
        dx = alloc.frame_array(vel.shape, vel.dtype)
        np.multiply(vel, dt, out=dx)
        np.add(pos, dx, out=pos)
        alloc.end_frame()
    return pos, vel
