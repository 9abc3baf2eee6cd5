"""Planted: unpacking a record pair yields record views, and one is kept on the object (FA601)."""
import numpy as np

BOUND = np.dtype([("lo", np.float64), ("hi", np.float64)])


class Tracker:
    def __init__(self, alloc):
        self.alloc = alloc

    def update(self, x, y):
        with self.alloc.frame():
            bx, by = self.alloc.frame_alloc_2(BOUND)
            bx["lo"], bx["hi"] = x.min(), x.max()
            by["lo"], by["hi"] = y.min(), y.max()
            self.y_bounds = by  # expect: FA601
            return float(bx["hi"] - bx["lo"])
