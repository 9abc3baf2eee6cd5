"""Planted: `.T` keeps the alias; returning it hands out recycled memory (FA604)."""
import numpy as np


def covariance_basis(alloc, x):
    with alloc.frame():
        centered = alloc.frame_array(x.shape, np.float64)
        np.subtract(x, x.mean(axis=0), out=centered)
        return centered.T  # expect: FA604
