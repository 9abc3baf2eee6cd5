"""Planted: next to the safe `is None` check, the `try_` buffer's data is read after the frame
(FA605)."""
import numpy as np


def resample(alloc, signal, factor, log):
    with alloc.frame():
        buf = alloc.try_frame_array(signal.shape[0] * factor, np.float64)
        if buf is not None:
            buf[:] = np.repeat(signal, factor)
    if buf is None:
        log.warning("frame exhausted")
        return np.repeat(signal, factor)
    return float(buf.sum())  # expect: FA605
