"""A scalar accumulator fed from a frame temporary: `acc += tmp[i]` adds a value."""
import numpy as np
from numba import njit


@njit(cache=True)
def energy(alloc, pos, vel, masses):
    acc = 0.0
    alloc.begin_frame()
    ke = alloc.frame_array(masses.shape[0], np.float64)
    for i in range(masses.shape[0]):
        ke[i] = 0.5 * masses[i] * (vel[i] ** 2).sum()
    for i in range(masses.shape[0]):
        acc += ke[i]
    peak = 0.0
    peak += ke.max()
    alloc.end_frame()
    return acc, peak
