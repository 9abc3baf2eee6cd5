"""Organisation kernels: tag segments, budget leases and charges (atomic on shared counters).

Work in progress (issue 4); ``charge``/``release`` are the interface other kernels call.
"""
from __future__ import annotations

from numba import njit


@njit(cache=True)
def charge(row_addr, kind, nbytes):
    """Attribute ``nbytes`` of ``kind`` to the row's tag and charge its budgets.

    Returns ``(status, tag)``: status 0 and the tag id to pass to :func:`release`, or a non-zero
    status (``ST_BUDGET``) with nothing changed."""
    return 0, 0


@njit(cache=True)
def release(org_addr, kind, tag, nbytes):
    """Give back what :func:`charge` took for ``tag``."""
    return 0
