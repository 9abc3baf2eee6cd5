"""Pools, typed pools, heap arrays, groups, handles and streaming (SmartAlloc methods)."""
from __future__ import annotations


class PoolsMixin:
    """SmartAlloc methods for memory that outlives frames."""
