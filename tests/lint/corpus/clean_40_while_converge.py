"""Jacobi iteration until convergence: one frame per sweep, state updated in place."""
import numpy as np
from numba import njit


@njit(cache=True)
def jacobi(alloc, A, b, x, tol, max_iter):
    n = b.shape[0]
    err = tol + 1.0
    it = 0
    while err > tol and it < max_iter:
        alloc.begin_frame()
        x_new = alloc.frame_array(n, np.float64)
        for i in range(n):
            s = b[i]
            for j in range(n):
                if j != i:
                    s -= A[i, j] * x[j]
            x_new[i] = s / A[i, i]
        dx = alloc.frame_array(n, np.float64)
        np.subtract(x_new, x, dx)
        err = np.abs(dx).max()
        x += dx
        alloc.end_frame()
        it += 1
    return x, it
