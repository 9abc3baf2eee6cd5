"""Planted: a frame view is published through a global (FA602)."""
import numpy as np

LATEST = None


def render(alloc, scene):
    global LATEST
    with alloc.frame():
        img = alloc.frame_zeros((scene.h, scene.w), np.float32)
        scene.draw(img)
        LATEST = img  # expect: FA602
        return float(img.mean())
