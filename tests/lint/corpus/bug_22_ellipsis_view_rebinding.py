"""Planted: `x = tmp[...]` is a view (not a copy, unlike `x[...] = tmp`); used after the frame
(FA605)."""
import numpy as np


def smooth_copy(alloc, signal):
    alloc.begin_frame()
    tmp = alloc.frame_array(signal.shape, np.float64)
    tmp[1:-1] = (signal[:-2] + signal[1:-1] + signal[2:]) / 3.0
    tmp[0], tmp[-1] = signal[0], signal[-1]
    result = tmp[...]
    alloc.end_frame()
    print(result.mean())  # expect: FA605
