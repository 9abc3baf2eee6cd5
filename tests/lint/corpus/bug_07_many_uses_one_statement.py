"""Planted: one statement uses a dead view three times; it is one problem, reported once (FA605)."""
import numpy as np


def summary(alloc, x):
    alloc.begin_frame()
    tmp = alloc.frame_array(x.shape, np.float64)
    np.square(x, out=tmp)
    alloc.end_frame()
    return tmp.sum() / tmp.size + tmp.max()  # expect: FA605
