"""A `try_` buffer checked against None, and its shape logged, after the frame: the array object's
metadata stays valid, only its data is recycled."""
import numpy as np


def resample(alloc, signal, factor, log):
    n = signal.shape[0] * factor
    with alloc.frame():
        buf = alloc.try_frame_array(n, np.float64)
        if buf is not None:
            buf[:] = np.repeat(signal, factor)
            energy = float((buf * buf).sum())
        else:
            energy = float((np.repeat(signal, factor) ** 2).sum())
    if buf is None:
        log.warning("frame exhausted; resampled %d samples on the heap", n)
    else:
        log.debug("resampled into a frame buffer of shape %s", buf.shape)
    return energy
