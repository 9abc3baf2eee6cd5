"""Lennard-Jones cluster potential, array style, ported to framealloc.

Port of lennard_jones_original.py (numba/numba-examples, examples/lennard_jones/
numba_array_impl.py). Only the temporaries change: each array expression becomes
``alloc.frame_eval`` of a scalar function (one loop, frame memory), ``np.empty`` becomes
``alloc.frame_array``, and each cluster's scratch lives in a scope that frees it.
"""
import numpy as np
from numba import njit


@njit
def lj(r):
    sr6 = (1.0 / r) ** 6
    return 4.0 * (sr6 * sr6 - sr6)


@njit
def sub(x, y):
    return x - y


@njit
def square(x):
    return x * x


@njit
def sqrt(x):
    return np.sqrt(x)


@njit
def distances(alloc, cluster):
    n, dim = cluster.shape
    diff = alloc.frame_eval(sub, cluster.reshape(n, 1, dim), cluster.reshape(1, n, dim))
    mat = alloc.frame_eval(square, diff)
    out = alloc.frame_array((n, n), mat.dtype)
    for i in range(n):
        for j in range(n):
            out[i, j] = mat[i, j].sum()
    return alloc.frame_eval(sqrt, out)


@njit
def potential(alloc, cluster):
    s = alloc.scope_begin()
    d = distances(alloc, cluster)
    for i in range(d.shape[0]):        # keep the upper triangle: each pair once
        for j in range(d.shape[1]):
            if i > j:
                d[i, j] = 0
    energy = 0.0
    for v in d.flat:
        if v > 1e-6:
            energy += lj(v)
    alloc.scope_end(s)
    return energy


@njit
def run(alloc, clusters):
    """The potential of each cluster of ``clusters`` (m, n, 3); call it inside a frame."""
    out = np.empty(clusters.shape[0])
    for c in range(clusters.shape[0]):
        out[c] = potential(alloc, clusters[c])
    return out
