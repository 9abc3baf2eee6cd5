"""Allocator state dtypes and numba kernels (typing, lowering, intrinsics)."""


def _numba_init() -> None:
    """Entry point numba calls (``numba_extensions``) before it first types anything."""
