"""A value computed inside `with alloc.frame():` and used after the block."""
import numpy as np


def mean_distance(alloc, pts, center):
    with alloc.frame():
        d = alloc.frame_array(pts.shape[0], np.float64)
        diff = alloc.frame_array(pts.shape, np.float64)
        np.subtract(pts, center, out=diff)
        np.sqrt((diff * diff).sum(axis=1), out=d)
        result = float(d.mean())
        worst = d.argmax()
    print(f"mean {result:.3f}, worst point {worst}")
    return result, int(worst)
