"""Allocator state dtypes and numba kernels (typing, lowering, intrinsics).

Nothing here is imported by ``import framealloc``: the numba side is registered the first time a
SmartAlloc meets numba (its ``_numba_type_``), or through numba's ``numba_extensions`` entry point.
"""
from __future__ import annotations

_registered = None


def ensure_registered():
    """Register the numba typing/lowering of SmartAlloc; returns its numba type."""
    global _registered
    if _registered is None:
        from numba.np.ufunc.parallel import _launch_threads

        from .njit_api import smart_alloc_type

        # The allocation intrinsic calls numba's get_thread_id(); its symbol exists only once the
        # threading layer is up, also when the caller's code comes from numba's cache.
        _launch_threads()
        _registered = smart_alloc_type
    return _registered


def _numba_init() -> None:
    """Entry point numba calls (``numba_extensions``) before it first compiles anything."""
    ensure_registered()
