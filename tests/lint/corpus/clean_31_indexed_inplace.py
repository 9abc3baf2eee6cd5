"""Scatter-add of frame contributions into a grid with indexed augmented assignment."""
import numpy as np
from numba import njit


@njit(cache=True)
def deposit(alloc, grid, cells, weights):
    alloc.begin_frame()
    w = alloc.frame_array(weights.shape[0], np.float64)
    w[:] = weights / weights.sum()
    for k in range(cells.shape[0]):
        i = cells[k, 0]
        j = cells[k, 1]
        grid[i, j] += w[k]
    corner = alloc.frame_zeros(2, np.float64)
    grid[0, :2] += corner
    alloc.end_frame()
    return grid
