"""k-means, ported to framealloc.

Port of kmeans_original.py (``example_kmeans_test``, numba/tests/test_parfors.py). Only the
temporaries change: the list-built arrays become frame arrays filled by the same loops, the
squared row difference one ``frame_eval``, the masks ``frame_eval`` and the masked column
``frame_compress``; each iteration's scratch lives in a scope. The centroids of each iteration
are frame arrays too (call it inside a frame; copy the result out before the frame ends).
"""
import math

import numpy as np
from numba import njit


@njit
def sqdiff(x, y):
    return (x - y) ** 2


@njit
def equal(x, y):
    return x == y


@njit
def kmeans(alloc, A, k, iters, init):
    centroids = init
    n, d = A.shape
    for _ in range(iters):
        new = alloc.frame_array((k, d))
        s = alloc.scope_begin()
        dist = alloc.frame_array((n, k))
        for i in range(n):
            for j in range(k):
                dist[i, j] = math.sqrt(np.sum(alloc.frame_eval(sqdiff, A[i, :],
                                                               centroids[j, :])))
        labels = alloc.frame_array(n, np.int64)
        for i in range(n):
            labels[i] = dist[i, :].argmin()
        for i in range(k):
            for j in range(d):
                new[i, j] = (np.sum(alloc.frame_compress(alloc.frame_eval(equal, labels, i),
                                                         A[:, j]))
                             / np.sum(alloc.frame_eval(equal, labels, i)))
        alloc.scope_end(s)
        centroids = new
    return centroids
