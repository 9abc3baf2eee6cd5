"""Helpers shared by the pool modules: argument checks, status -> exception, NRT buffer views."""
from __future__ import annotations

import operator

import numpy as np

from .errors import AllocSizeError, ConfigError
from .kernels.pool_state import (
    ST_CLOSED,
    ST_FULL,
    ST_NEGATIVE,
    ST_NOT_LIVE,
    ST_OOM,
    ST_RANGE,
    ST_STALE,
)
from .pool_codes import (
    DoubleFreeError,
    PoolError,
    PoolExhaustedError,
    PoolIndexError,
    StaleHandleError,
)

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


_kernels = None


def kernels():
    """The pool kernels (imports numba on first use, never at framealloc import)."""
    global _kernels
    if _kernels is None:
        from .kernels import pool_kernels
        _kernels = pool_kernels
    return _kernels


def check_count(value, name: str, limit: int = _INT64_MAX) -> int:
    """A non-negative int up to ``limit``; FA106 otherwise."""
    if isinstance(value, bool):
        raise AllocSizeError(f"{name} must be an int, got {value!r}", code="FA106")
    try:
        n = operator.index(value)
    except TypeError:
        raise AllocSizeError(f"{name} must be an int, got {value!r}", code="FA106") from None
    if n < 0:
        raise AllocSizeError(f"{name} must be >= 0, got {n}", code="FA106")
    if n > limit:
        raise AllocSizeError(f"{name}={n} is too large (at most {limit})", code="FA106")
    return n


def check_key(key) -> int:
    """An index or handle: an int64; FA104 otherwise."""
    if isinstance(key, bool):
        raise PoolIndexError(f"an index or handle must be an int, got {key!r}", code="FA104")
    try:
        k = operator.index(key)
    except TypeError:
        raise PoolIndexError(f"an index or handle must be an int, got {key!r}",
                             code="FA104") from None
    if not _INT64_MIN <= k <= _INT64_MAX:
        raise PoolIndexError(f"{k} is not an index or handle (outside int64)", code="FA104")
    return k


def check_policy(policy) -> int:
    from .kernels.pool_state import POOL_POLICIES

    if policy not in POOL_POLICIES:
        raise ConfigError(f"policy must be one of {POOL_POLICIES}, got {policy!r}", code="FA110")
    return POOL_POLICIES.index(policy)


def raise_acquire(status: int, what: str) -> None:
    if status == ST_CLOSED:
        raise PoolError(f"{what} was closed; create a new one", code="FA109")
    if status == ST_FULL:
        raise PoolExhaustedError(
            f"{what} is full (policy 'error' or slot limit); create it larger, call reserve(n), "
            "use policy='grow', or use try_acquire()", code="FA105")
    if status == ST_OOM:
        raise PoolExhaustedError(f"out of memory while growing {what}", code="FA105")
    if status == ST_NEGATIVE:
        raise AllocSizeError("count must be >= 0", code="FA106")
    raise PoolError(f"internal error in {what} (status {status})", code="FA109")


def raise_release(status: int, key: int, what: str, lookup: bool = False) -> None:
    """Raise the error of a failed release (``lookup``: of a failed index/handle check)."""
    slot, gen = key & 0xFFFFFFFF, key >> 32
    if status == ST_CLOSED:
        raise PoolError(f"{what} was closed", code="FA109")
    if status == ST_RANGE:
        raise PoolIndexError(f"index {slot} (key {key}) is out of range of {what}", code="FA104")
    if status == ST_NOT_LIVE:
        if lookup:
            raise StaleHandleError(f"slot {slot} of {what} is not live (released, or never "
                                   "acquired)", code="FA103")
        raise DoubleFreeError(f"double release: slot {slot} of {what} is not live (released "
                              "already, or never acquired)", code="FA101")
    if status == ST_STALE:
        raise StaleHandleError(f"stale handle {key}: slot {slot} was released and reused since "
                               f"(handle generation {gen})", code="FA103")
    raise PoolError(f"internal error in {what} (status {status})", code="FA109")


def nrt_bytes(meminfo: int, data: int, nbytes: int) -> np.ndarray:
    """``nbytes`` of the NRT buffer of ``meminfo`` from address ``data``, as a uint8 array that
    holds its own reference to the buffer (so it never dangles)."""
    from numba.core.runtime import nrt

    owner = nrt.MemInfo(meminfo)   # takes over one reference...
    owner.acquire()                # ...so give the owner of ``meminfo`` its own back
    raw = np.frombuffer(owner, np.uint8)
    off = data - raw.ctypes.data
    assert 0 <= off and off + nbytes <= raw.size, "view outside its NRT buffer"
    return raw[off:off + nbytes]


def nrt_drop(meminfo: int) -> None:
    """Drop one reference to an NRT meminfo (0: nothing)."""
    if meminfo:
        from numba.core.runtime import nrt

        nrt.MemInfo(int(meminfo))  # takes over the reference and drops it when collected
