"""Planted: `.view(...)` keeps the alias; the bits are read after the frame block (FA605)."""
import numpy as np


def float_bits(alloc, x):
    with alloc.frame():
        f = alloc.frame_array(x.shape, np.float32)
        f[:] = x
        bits = f.view(np.uint32)
    return int(bits[0]) >> 23  # expect: FA605
