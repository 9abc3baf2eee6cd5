"""`x = x + tmp` makes a new (heap) array: returning it after the frame is fine."""
import numpy as np


def add_noise(alloc, x, rng, scale):
    alloc.begin_frame()
    noise = alloc.frame_array(x.shape, np.float64)
    noise[:] = rng.standard_normal(x.shape)
    x = x + scale * noise
    y = noise * 2.0
    alloc.end_frame()
    return x, y
