"""Word-id counting in a FrameMap; the counts leave the frame as Python ints."""
import numpy as np


def top_ids(alloc, ids, k):
    with alloc.frame():
        counts = alloc.frame_map(np.int64, np.int64, ids.shape[0] * 2)
        for i in ids:
            key = int(i)
            counts.insert(key, counts.get(key, 0) + 1)
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:k]
        result = {int(key): int(n) for key, n in ranked}
    return result
