"""Frame checkpoints: save a point in the current frame and roll back to it."""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["FrameCheckpoint", "FrameScope", "ScopeBlock"]

#: Bit set in the serial of a scope's checkpoint (on its stack entry and in its FrameScope), so
#: that ending an outer scope can tell an inner scope still open from a plain checkpoint.
SCOPE_BIT = 1 << 62
#: The FA010 message parts when ``scope_end`` gets something else than a FrameScope.
SCOPE_TYPE_MESSAGE = {"call": "scope_end", "what": "a FrameScope from alloc.scope_begin()"}


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


class FrameScope(NamedTuple):
    """An open scope, from ``alloc.scope_begin()`` (``with alloc.scope():`` holds one for you).

    A scope is a checkpoint that is ended exactly once, in order: ``alloc.scope_end(s)`` frees
    every frame allocation made since ``scope_begin()`` and closes the scope. Scopes nest;
    ending one while a scope begun inside it is still open raises FA023 and changes nothing.
    Plain integers (the fields of :class:`FrameCheckpoint`), so Python and ``@njit`` code make and
    end scopes the same way.

    Example
    -------
    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> with alloc.frame():
    ...     keep = alloc.frame_array(10)
    ...     s = alloc.scope_begin()
    ...     tmp = alloc.frame_array(1000)
    ...     alloc.scope_end(s)               # tmp's 8000 bytes are free again, keep stays
    ...     alloc.stats().frame.current
    80
    """

    owner: int
    thread: int
    worker: int
    frame: int
    serial: int     # the checkpoint's serial with the scope bit set
    index: int  # type: ignore[assignment]
    position: int
    chunk_seq: int
    cursor: int


class ScopeBlock:
    """Context manager from :meth:`SmartAlloc.scope`: ``scope_begin()`` on entry, ``scope_end()``
    on exit (also when the block raises). ``scope`` is the open :class:`FrameScope`."""

    __slots__ = ("_alloc", "scope")

    def __init__(self, alloc):
        self._alloc = alloc
        self.scope: FrameScope | None = None

    def __enter__(self) -> "ScopeBlock":
        self.scope = self._alloc.scope_begin()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        s = self.scope
        assert s is not None, "ScopeBlock.__exit__ without __enter__"
        self.scope = None
        self._alloc.scope_end(s)
