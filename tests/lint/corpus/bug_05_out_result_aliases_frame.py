"""Planted: the result of a ufunc with `out=` is the `out` array: here frame memory (FA604)."""
import numpy as np


def softplus(alloc, x):
    with alloc.frame():
        tmp = alloc.frame_array(x.shape, np.float64)
        np.exp(x, out=tmp)
        y = np.log1p(tmp, out=tmp)
        return y  # expect: FA604
