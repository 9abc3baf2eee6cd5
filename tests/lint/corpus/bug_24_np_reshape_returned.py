"""Planted: `np.reshape` of frame memory is a view of it, returned from the function that opened
the frame (FA604)."""
import numpy as np


def as_matrix(alloc, x, rows):
    with alloc.frame():
        tmp = alloc.frame_array(x.shape, np.float64)
        np.multiply(x, 2.0, out=tmp)
        return np.reshape(tmp, (rows, -1))  # expect: FA604
