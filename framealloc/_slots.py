"""Helpers shared by the pool modules: argument checks, status -> exception, NRT buffer views."""
from __future__ import annotations

import operator

import numpy as np

from .errors import ConfigError, error
from .kernels import status as ST

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
    try:
        n = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        n = None
    if n is None or not 0 <= n <= limit:
        raise error(ST.BAD_POOL_SIZE, name=name, got=f", got {value!r}",
                    limit=f" up to {limit}" if limit < _INT64_MAX else "")
    return n


def check_key(key) -> int:
    """An index or handle: an int64; FA104 otherwise."""
    try:
        k = None if isinstance(key, bool) else operator.index(key)
    except TypeError:
        k = None
    if k is None or not _INT64_MIN <= k <= _INT64_MAX:
        raise error(ST.SLOT_RANGE, "type", what="an index or handle", kind="an int64",
                    got=repr(key))
    return k


def check_policy(policy) -> int:
    from .kernels.pool_state import POOL_POLICIES

    if policy not in POOL_POLICIES:
        raise ConfigError(f"policy must be one of {POOL_POLICIES}, got {policy!r}", code="FA110")
    return POOL_POLICIES.index(policy)


def raise_acquire(status: int, what: str) -> None:
    """Raise the error of a failed acquire/grow of ``what`` (FA105, FA109, ...)."""
    raise error(status, what=what)


def raise_release(status: int, key: int, what: str) -> None:
    """Raise the error of a failed release or lookup of ``key`` in ``what`` (FA101, FA103,
    FA104, FA109)."""
    raise error(status, what=what, slot=f"slot {key & 0xFFFFFFFF} (key {key})")


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
