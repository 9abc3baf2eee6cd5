"""An accumulator object adds frame temporaries into its own long-lived array in place."""
import numpy as np


class RunningSum:
    def __init__(self, alloc, shape):
        self.alloc = alloc
        self.total = np.zeros(shape, np.float64)
        self.count = 0

    def add_frame(self, samples):
        self.alloc.begin_frame()
        try:
            contrib = self.alloc.frame_array(self.total.shape, np.float64)
            np.multiply(samples, samples, out=contrib)
            self.total += contrib
            self.count += 1
        finally:
            self.alloc.end_frame()
        return self.count
