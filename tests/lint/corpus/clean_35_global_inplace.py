"""A module-level histogram updated in place from a frame temporary (`global` + `+=`)."""
import numpy as np

HIST = np.zeros(64, np.int64)


def accumulate(alloc, samples):
    global HIST
    with alloc.frame():
        counts = alloc.frame_zeros(HIST.shape[0], np.int64)
        for s in samples:
            counts[int(s) % HIST.shape[0]] += 1
        HIST += counts
    return int(HIST.sum())
