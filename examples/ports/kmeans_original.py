"""k-means, written the way numba's own parallel test suite writes it (the original).

Source: ``example_kmeans_test`` in numba's test suite (numba/tests/test_parfors.py), re-typed.
Every iteration builds its distance matrix, labels and new centroids as list-built arrays, with
a temporary row difference and its square per (point, centroid) pair and two boolean masks per
(centroid, feature). kmeans_framealloc.py is the port.
"""
import math

import numpy as np
from numba import njit


@njit
def kmeans(A, k, iters, init):
    centroids = init
    n, d = A.shape
    for _ in range(iters):
        dist = np.array([[math.sqrt(np.sum((A[i, :] - centroids[j, :]) ** 2))
                          for j in range(k)] for i in range(n)])
        labels = np.array([dist[i, :].argmin() for i in range(n)])
        centroids = np.array([[np.sum(A[labels == i, j]) / np.sum(labels == i)
                               for j in range(d)] for i in range(k)])
    return centroids
