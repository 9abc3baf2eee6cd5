"""Planted: a callback capturing frame memory is called after the frame (FA603)."""
import numpy as np


def make_report(alloc, x):
    with alloc.frame():
        z = alloc.frame_array(x.shape, np.float64)
        np.subtract(x, x.mean(), out=z)

        def report():
            return float(np.abs(z).max())

        inside = report()
    after = report()  # expect: FA603
    return inside, after
