"""Lennard-Jones cluster potential, array style (the original).

Source: the "numba array" implementation of the Lennard-Jones benchmark in numba/numba-examples
(examples/lennard_jones/numba_array_impl.py), re-typed. The pairwise distances come from array
expressions, and every one of them allocates a new array: the (n, n, 3) difference, its square,
the (n, n) sums and their square root. lennard_jones_framealloc.py is the port.
"""
import numpy as np
from numba import njit


@njit
def lj(r):
    sr6 = (1.0 / r) ** 6
    return 4.0 * (sr6 * sr6 - sr6)


@njit
def distances(cluster):
    n, dim = cluster.shape
    diff = cluster.reshape(n, 1, dim) - cluster.reshape(1, n, dim)
    mat = diff * diff
    out = np.empty((n, n), dtype=mat.dtype)
    for i in range(n):
        for j in range(n):
            out[i, j] = mat[i, j].sum()
    return np.sqrt(out)


@njit
def potential(cluster):
    d = distances(cluster)
    for i in range(d.shape[0]):        # keep the upper triangle: each pair once
        for j in range(d.shape[1]):
            if i > j:
                d[i, j] = 0
    energy = 0.0
    for v in d.flat:
        if v > 1e-6:
            energy += lj(v)
    return energy


@njit
def run(clusters):
    """The potential of each cluster of ``clusters`` (m, n, 3)."""
    out = np.empty(clusters.shape[0])
    for c in range(clusters.shape[0]):
        out[c] = potential(clusters[c])
    return out
