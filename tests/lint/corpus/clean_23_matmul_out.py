"""Chained products in frame temporaries; the final result copied into the caller's array."""
import numpy as np


def transform_chain(alloc, mats, v, result):
    with alloc.frame():
        acc = alloc.frame_array(mats[0].shape, np.float64)
        tmp = alloc.frame_array(mats[0].shape, np.float64)
        acc[...] = mats[0]
        for m in mats[1:]:
            np.matmul(acc, m, out=tmp)
            acc, tmp = tmp, acc
        out = alloc.frame_array(v.shape, np.float64)
        np.matmul(acc, v, out=out)
        result[...] = out
    return result
