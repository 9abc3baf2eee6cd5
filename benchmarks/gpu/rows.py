"""The GPU rows of ``benchmarks/run.py``'s ratio table (``--include-gpu``): group and competitor
names shared with ``_cases.py``, and the targets of issue 17. Imports nothing, so the runner can
read it without loading framealloc or Vulkan.

Each row is ``(id, what, group, subject, reference, kind, target)`` as ``run.Row`` takes it.
"""
from __future__ import annotations

P8 = "P8: 256 B GPU buffer range from Python"
P9 = "P9: persistent 256 B GPU buffer range, allocate + free, from Python"
P10 = "P10: 1000 frame ranges of 256 B in one allocate_frame_batch, from Python"
UPLOAD = "GPU: staged upload of 64 MiB"

FRAMEALLOC = "framealloc"
RAW = "vkCreateBuffer+vkAllocateMemory+bind+destroy"
VMA = "VMA vmaCreateBuffer+vmaDestroyBuffer (pyvma)"
HOT = "framealloc (allocate_frame only)"
TLSF = "framealloc persistent alloc+free"
BATCH = "framealloc allocate_frame_batch"
POOL_BATCH = "framealloc allocate_batch + free (persistent)"
UPLOAD_FA = "framealloc upload"
UPLOAD_BARE = "bare vkCmdCopyBuffer"
MEMCPY = "numpy copy into mapped memory"

GPU_ROWS = [
    ("P8", "GPU: 256 B frame range from Python (frame of 1000 incl. end/begin_frame) vs VMA "
     "create+destroy", P8, FRAMEALLOC, VMA, "faster", 5),
    ("P8", "GPU: the same vs raw vkCreateBuffer + vkAllocateMemory + bind + destroy", P8,
     FRAMEALLOC, RAW, "faster", 10),
    ("P9", "GPU: persistent 256 B range allocate + free from Python vs VMA create+destroy", P9,
     TLSF, VMA, "within", 0.5),
    ("P9", "GPU: persistent allocate + free vs raw Vulkan buffer + memory per range", P9, TLSF,
     RAW, "within", None),
    ("P10", "GPU: `allocate_frame_batch` of 1000 ranges from Python, per range", P10, BATCH, None,
     "seconds", 20e-9),
    ("P10", "GPU: `allocate_batch` + `free()` of 1000 persistent ranges, per range", P10,
     POOL_BATCH, None, "seconds", None),
    ("BW", "GPU: staged upload of 64 MiB vs bare `vkCmdCopyBuffer` (≤ 1.11× its time = ≥ 90 % "
     "of its bandwidth)", UPLOAD, UPLOAD_FA, UPLOAD_BARE, "within", 1 / 0.9),
]
