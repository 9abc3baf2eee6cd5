"""A filter pipeline: each stage writes into the next stage's frame buffer; the last copies out."""
import numpy as np


class Pipeline:
    def __init__(self, alloc, taps):
        self.alloc = alloc
        self.taps = np.asarray(taps, np.float64)
        self.out = None

    def run(self, x):
        with self.alloc.frame():
            a = self.alloc.frame_array(x.shape, np.float64)
            b = self.alloc.frame_array(x.shape, np.float64)
            a[:] = x
            for t in self.taps:
                np.multiply(a, t, b)
                b[1:] += a[:-1]
                a, b = b, a
            rev = a[::-1]
            if self.out is None or self.out.shape != x.shape:
                self.out = np.empty(x.shape, np.float64)
            self.out[...] = rev
            np.dot(self.out, self.out)
        return self.out
