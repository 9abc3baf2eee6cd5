"""Work fanned out to an executor whose results are collected before the frame ends."""
import numpy as np


def norm(block):
    return float(np.sqrt((block * block).sum()))


def block_norms(alloc, executor, data, nblocks):
    with alloc.frame():
        blocks = alloc.frame_array(data.shape, data.dtype)
        blocks[:] = data
        parts = np.array_split(blocks, nblocks)
        total = executor.submit(norm, blocks).result()
        each = list(executor.map(norm, parts))
    return total, each
