"""framealloc: intent-aware frame/pool/heap allocation for NumPy and Numba."""
from __future__ import annotations

from .errors import (
    AlignmentError,
    AllocSizeError,
    ArenaExhaustedError,
    CheckpointError,
    ConfigError,
    FrameAllocError,
    FrameStateError,
    UnsupportedDtypeError,
    WrongThreadError,
    explain,
)

__version__ = "0.1.0"

from .alloc import FAILED, CheckpointGuard, SmartAlloc, SpeculativeResult
from .checkpoints import FrameCheckpoint
from .config import AllocConfig, GiB, KiB, MiB
from .coordination import FrameBarrier
from .stats import AllocStats, FrameStats, ThreadFrameStats

__all__ = [
    "SmartAlloc", "AllocConfig", "KiB", "MiB", "GiB", "FrameCheckpoint", "CheckpointGuard",
    "SpeculativeResult", "FAILED", "AllocStats", "FrameStats", "ThreadFrameStats", "explain",
    "FrameAllocError", "FrameStateError", "AllocSizeError", "UnsupportedDtypeError",
    "AlignmentError", "ArenaExhaustedError", "CheckpointError", "WrongThreadError", "ConfigError",
    "FrameBarrier",
]
