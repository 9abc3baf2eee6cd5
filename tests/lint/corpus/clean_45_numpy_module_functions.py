"""NumPy functions that build new arrays from frame data (`np.append`, `np.insert`,
`np.concatenate`) are not containers being filled: their results are heap arrays."""
import numpy as np


def padded_profile(alloc, x, pad):
    with alloc.frame():
        core = alloc.frame_array(x.shape[0], np.float64)
        np.cumsum(x, out=core)
        left = alloc.frame_zeros(pad, np.float64)
        profile = np.concatenate((left, core))
        profile = np.append(profile, core[-1])
        marked = np.insert(core, 0, -1.0)
    return profile, marked
