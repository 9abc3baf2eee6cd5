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
