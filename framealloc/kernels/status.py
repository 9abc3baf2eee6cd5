"""Status codes of the frame kernels and the FA error each one becomes (numba-free).

Kernels return a status instead of raising; the Python API (:mod:`framealloc.alloc`) and the njit
methods (:mod:`framealloc.kernels.njit_api`) both turn a status into the same exception and message
from :data:`STATUS_ERRORS`.
"""
from __future__ import annotations

from ..org_codes import BudgetExceededError, TagError
from ..errors import (
    AlignmentError,
    AllocSizeError,
    ArenaExhaustedError,
    CheckpointError,
    FrameStateError,
    WrongThreadError,
)

ST_OK = 0
ST_NO_FRAME = 1        # FA001
ST_BEGIN_TWICE = 2     # FA002
ST_END_NO_BEGIN = 3    # FA003
ST_NEGATIVE = 4        # FA004
ST_OVERFLOW = 5        # FA005
ST_BAD_ALIGN = 7       # FA007
ST_EXHAUSTED = 8       # FA008
ST_FOREIGN_CP = 9      # FA009
ST_STALE_CP = 10       # FA010
ST_WRONG_THREAD = 11   # FA011
ST_BUDGET = 12         # FA154
ST_TAG_UNKNOWN = 13    # FA153
ST_TAG_UNBALANCED = 14  # FA152
ST_TAG_LOG_FULL = 15   # FA157
ST_HEAP = 100          # success, served from a heap fallback the row owns until end_frame

#: status -> (exception class, message starting with the FA code)
STATUS_ERRORS: dict[int, tuple[type, str]] = {
    ST_NO_FRAME: (FrameStateError, "FA001: frame allocation outside a frame; call "
                  "alloc.begin_frame() first (or use `with alloc.frame():` in Python)"),
    ST_BEGIN_TWICE: (FrameStateError, "FA002: begin_frame() while a frame is open on this thread; "
                     "call end_frame() first"),
    ST_END_NO_BEGIN: (FrameStateError, "FA003: end_frame() without begin_frame() on this thread"),
    ST_NEGATIVE: (AllocSizeError, "FA004: negative size or shape entry in a frame allocation"),
    ST_OVERFLOW: (AllocSizeError, "FA005: frame allocation size overflows (over 2**47 bytes)"),
    ST_BAD_ALIGN: (AlignmentError, "FA007: align must be a power of two between 1 and 4096"),
    ST_EXHAUSTED: (ArenaExhaustedError, "FA008: frame arena exhausted (on_frame_exhausted='error' "
                   "or out of memory); raise AllocConfig.frame_capacity, use the 'grow' policy, "
                   "or use a try_ form"),
    ST_FOREIGN_CP: (CheckpointError, "FA009: checkpoint belongs to another SmartAlloc"),
    ST_STALE_CP: (CheckpointError, "FA010: stale checkpoint: taken in an older frame, already "
                  "rolled past, or pushed out by newer checkpoints"),
    ST_WRONG_THREAD: (WrongThreadError, "FA011: checkpoint made on another thread or prange "
                      "worker"),
    ST_BUDGET: (BudgetExceededError, "FA154: a hard budget refuses this allocation (see "
                "alloc.stats().budgets); free memory, raise the limit, or use a try_ form"),
    ST_TAG_UNKNOWN: (TagError, "FA153: unknown tag id; get ids with alloc.tag_id(name) in Python"),
    ST_TAG_UNBALANCED: (TagError, "FA152: unbalanced tag: pop_tag() without push_tag(), or more "
                        "than 16 nested tags inside @njit"),
    ST_TAG_LOG_FULL: (TagError, "FA157: more than 128 tag switches while a frame checkpoint is "
                      "live; commit or roll back the checkpoint first"),
}


def raise_for_status(status: int, detail: str = "") -> None:
    """Raise the exception of a non-OK status (Python side)."""
    exc, msg = STATUS_ERRORS[status]
    raise exc(msg + detail)
