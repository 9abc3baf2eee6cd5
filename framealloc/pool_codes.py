"""Exceptions and diagnostic codes of pools, typed pools, heap, groups, handles and streaming.

Codes FA101–FA120 (FA121–FA129 reserved), ``framealloc.explain("FA103")``. Every exception is a
:class:`~framealloc.FrameAllocError` carrying its code in ``.code`` and, like every framealloc
error, also a fitting builtin (``except MemoryError`` catches an exhausted pool). Errors raised
inside ``@njit`` code carry the same codes (their message starts with ``"FAnnn: "``).

>>> import framealloc as fa
>>> print(fa.explain("FA101").splitlines()[0])
FA101 double free
"""
from __future__ import annotations

from .errors import AllocSizeError, CodeInfo, ConfigError, FrameAllocError

__all__ = [
    "CODES", "PoolError", "DoubleFreeError", "ForeignFreeError", "StaleHandleError",
    "PoolIndexError", "PoolExhaustedError", "UseAfterFreeError", "GroupError", "HandleError",
    "StreamingError", "StreamingBudgetError",
]


class PoolError(FrameAllocError, RuntimeError):
    """Base of the errors of pools, typed pools, groups, handles and streaming (FA1xx)."""

    default_code = "FA109"


class DoubleFreeError(PoolError):
    """A pool box, pool slot or typed-pool index was freed/released twice (FA101)."""

    default_code = "FA101"


class ForeignFreeError(PoolError, ValueError):
    """A box or slot of another allocator or pool was given back here (FA102)."""

    default_code = "FA102"


class StaleHandleError(PoolError, LookupError):
    """An index or handle whose slot was released (and maybe reused) since (FA103, FA114)."""

    default_code = "FA103"


class PoolIndexError(PoolError, IndexError):
    """A slot index outside the pool's capacity (FA104)."""

    default_code = "FA104"


class PoolExhaustedError(FrameAllocError, MemoryError):
    """A pool cannot serve the request under its policy, or memory ran out (FA105)."""

    default_code = "FA105"


class UseAfterFreeError(PoolError):
    """A freed :class:`~framealloc.PoolBox` was used (FA108)."""

    default_code = "FA108"


class GroupError(PoolError, LookupError):
    """An allocation group id is unknown or already freed (FA112, FA113)."""

    default_code = "FA112"


class HandleError(PoolError):
    """A relocatable handle is in the wrong pin state for the call (FA115, FA116)."""

    default_code = "FA115"


class StreamingError(PoolError):
    """A streaming asset is unknown, not ready, or fed too much data (FA118–FA120)."""

    default_code = "FA118"


class StreamingBudgetError(FrameAllocError, MemoryError):
    """A streaming reservation cannot fit the budget, even after evictions (FA117)."""

    default_code = "FA117"


CODES: dict[str, CodeInfo] = {}


def _add(code: str, title: str, explanation: str, exception: type) -> None:
    assert code not in CODES, f"duplicate diagnostic code {code}"
    assert "FA101" <= code <= "FA129", f"{code} is outside the pool family FA101-FA129"
    CODES[code] = CodeInfo(code, title, explanation.strip(), exception.__name__)


_add("FA101", "double free", """
A PoolBox was freed twice, or a pool slot / typed-pool index was released while it was not live
(released already, or never acquired). Nothing was changed. Free each allocation exactly once; a
PoolBox also frees itself when it is garbage-collected, so never free it in `__del__`.""",
     DoubleFreeError)
_add("FA102", "foreign free", """
A PoolBox or slot key was given to an allocator (or pool) that did not hand it out, or a
PoolBox's block was released through a slot key. Free a box with `box.free()` or with the
SmartAlloc that made it; give slot keys back to the pools that made them (keys carry no owner:
another allocator's key is caught only when it names no class here, FA101/FA103 when its block is
not live here).""", ForeignFreeError)
_add("FA103", "stale index or handle", """
The handle's generation does not match the slot: the slot was released (and possibly acquired
again) after the handle was taken. Typed-pool handles (`pool.handle(i)`, `pool.acquire_handle()`)
pack (generation << 32) | index, so stale references are detected instead of silently reading
another particle. Re-acquire, or check `pool.is_alive(handle)` first.""", StaleHandleError)
_add("FA104", "slot index out of range", """
The index (the low 32 bits of a handle) is not below the pool's capacity. Indices come from
`acquire()` / `acquire_many()`; check the value you pass.""", PoolIndexError)
_add("FA105", "pool exhausted", """
A typed pool with policy="error" is full (or reached 2**31 - 1 slots), a size class reached its
slot limit, or memory ran out. Nothing was changed. Create the pool with a larger capacity, call
`pool.reserve(n)` from Python, use policy="grow", or use `try_acquire()`, which returns None.""",
     PoolExhaustedError)
_add("FA106", "bad pool size", """
A capacity, count or byte size is negative, not an integer, or too large (typed pools hold at
most 2**31 - 1 slots). Pass a non-negative int.""", AllocSizeError)
_add("FA107", "view does not fit the block", """
`pools.view(key, dtype, count)` asked for more bytes than the slot's size class holds, or a
negative count. Acquire a slot of at least `count * dtype.itemsize` bytes.""", AllocSizeError)
_add("FA108", "use after free", """
The PoolBox was freed (by `free()` or its `with` block); its `.array` is gone. Views you took
before freeing stay valid memory: their slot is only reused once they are gone too.""",
     UseAfterFreeError)
_add("FA109", "pool closed", """
The pool (or the allocator that owns it) was closed. Views handed out stay valid; create a new
pool for new allocations.""", PoolError)
_add("FA110", "invalid pool argument", """
An argument of a pool, group, handle or streaming call has an invalid value (see the message:
e.g. a policy that is not "grow" or "error", a budget that is not a positive int).""",
     ConfigError)
_add("FA111", "request larger than the largest size class", """
Inside @njit code the size-class pools only serve requests up to the largest class (4 KiB by
default, `AllocConfig.pool_size_classes`). From Python, larger requests go to the heap
automatically; in @njit code use np.empty, or add a larger class.""", AllocSizeError)
_add("FA112", "unknown group", """
The allocation-group id was not created by this allocator (`alloc.create_group()`).""",
     GroupError)
_add("FA113", "group already freed", """
`free_group()` was already called for this group; its id cannot be used again. Create a new
group.""", GroupError)
_add("FA114", "stale relocatable handle", """
The relocatable handle was freed (its generation no longer matches), or never came from this
handle heap. Handles stay valid across `compact()`; only `free()` ends them.""", StaleHandleError)
_add("FA115", "handle not pinned", """
`unpin()` was called more times than `pin()` for this handle. Pins nest: unpin once per pin.""",
     HandleError)
_add("FA116", "handle is pinned", """
A pinned relocatable handle cannot be freed: unpin it first (pins nest).""", HandleError)
_add("FA117", "streaming budget cannot be met", """
The reservation does not fit the streaming budget even after evicting every asset that may be
evicted (ready assets of lower or equal priority, least recently used first). Nothing was evicted.
Raise the budget, release assets, or reserve with a higher priority.""", StreamingBudgetError)
_add("FA118", "streaming asset not ready", """
`access()` was called before the asset was fully loaded. Feed it with `feed()` until
`is_ready(asset)` is True (`progress(asset)` tells how far it is).""", StreamingError)
_add("FA119", "unknown or evicted streaming asset", """
The asset id is unknown, was released, or was evicted under budget pressure (the eviction
callback told you). Reserve and load it again.""", StreamingError)
_add("FA120", "too much streaming data", """
`feed()` got more bytes than the asset reserved. Reserve the full size up front.""",
     StreamingError)
