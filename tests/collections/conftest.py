"""Fixtures of the collection tests: the core tests' allocator, leak check and state snapshot."""
from __future__ import annotations

import numpy as np

from ..core.conftest import alloc, leakcheck, nrt_stats, snapshot  # noqa: F401  (fixtures)

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
