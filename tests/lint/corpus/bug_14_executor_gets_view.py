"""Planted: a frame view is submitted to an executor whose result is collected later (FA202)."""
import numpy as np


def norm(block):
    return float(np.sqrt((block * block).sum()))


def block_norm_later(alloc, executor, data):
    with alloc.frame():
        block = alloc.frame_array(data.shape, data.dtype)
        np.abs(data, out=block)
        fut = executor.submit(norm, block)  # expect: FA202
    return fut
