"""Collision candidates gathered in a FrameVec and returned as a copy."""
import numpy as np


def close_pairs(alloc, pts, radius):
    n = pts.shape[0]
    with alloc.frame():
        hits = alloc.frame_vec(np.int64, n * 4)
        for i in range(n):
            for j in range(i + 1, n):
                if ((pts[i] - pts[j]) ** 2).sum() < radius * radius:
                    if not hits.try_push(i * n + j):
                        break
        found = np.array(hits.as_array())
    return found.reshape(-1)
