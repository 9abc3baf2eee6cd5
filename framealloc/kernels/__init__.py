"""Allocator state dtypes and numba kernels (typing, lowering, intrinsics).

Nothing here is imported by ``import framealloc``: the numba side is registered the first time a
SmartAlloc meets numba (its ``_numba_type_``), or through numba's ``numba_extensions`` entry point.
"""
from __future__ import annotations

from .registry import BOXERS, PYTHON_CLASSES  # noqa: F401 - filled by the Python API

_registered = None

#: Modules that register numba typing for SmartAlloc methods and framealloc types; each is
#: imported on first contact with numba. Feature modules add themselves here.
NJIT_MODULES = ("framealloc.kernels.njit_api", "framealloc.kernels.pools_njit",
                "framealloc.kernels.collections_njit", "framealloc.kernels.scratch_njit",
                "framealloc.kernels.creation_njit", "framealloc.kernels.expressions_njit",
                "framealloc.kernels.python_only")   # last: it answers what nothing else did


def ensure_registered():
    """Register the numba typing/lowering of SmartAlloc; returns its numba type.

    First of all it installs the alias-analysis hooks of :mod:`framealloc.kernels.aliasing`,
    which keep numba's dead-code elimination from deleting writes through our views.
    """
    global _registered
    if _registered is None:
        import importlib

        from numba.np.ufunc.parallel import _launch_threads

        from .aliasing import install
        install()

        from .njit_api import smart_alloc_type

        for name in NJIT_MODULES:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise

        # The allocation intrinsic calls numba's get_thread_id(); its symbol exists only once the
        # threading layer is up, also when the caller's code comes from numba's cache.
        _launch_threads()
        _registered = smart_alloc_type
    return _registered


def _numba_init() -> None:
    """Entry point numba calls (``numba_extensions``) before it first compiles anything."""
    ensure_registered()
