"""`astype` (copy=True by default) hands back a fresh array."""
import numpy as np


def quantize(alloc, x, levels):
    alloc.begin_frame()
    scaled = alloc.frame_array(x.shape, np.float64)
    np.multiply(x, levels - 1, out=scaled)
    np.rint(scaled, out=scaled)
    q = scaled.astype(np.uint8)
    alloc.end_frame()
    return q
