"""Frame checkpoints: save a point in the current frame and roll back to it."""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["FrameCheckpoint"]


class FrameCheckpoint(NamedTuple):
    """A point in one thread's frame arena, from ``alloc.frame_checkpoint()``.

    Plain integers, so it is made and consumed the same way in Python and inside ``@njit`` code.
    Valid only on the allocator, thread (and prange worker) and frame that made it, until a
    rollback goes past it.

    Example
    -------
    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> with alloc.frame():
    ...     cp = alloc.frame_checkpoint()
    ...     tmp = alloc.frame_array(1000, np.float64)
    ...     alloc.rollback_to(cp)            # the 8000 bytes are free again
    ...     alloc.stats().frame.current
    0
    """

    owner: int      # id of the SmartAlloc
    thread: int     # id of the Python thread's arena within it (never reused)
    worker: int     # prange worker (0 outside parallel regions)
    frame: int
    serial: int
    index: int  # type: ignore[assignment]  # the stack index; shadows tuple.index() on purpose
    position: int
    chunk_seq: int
    cursor: int
