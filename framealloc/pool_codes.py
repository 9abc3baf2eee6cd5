"""Codes FA101–FA120 of pools, typed pools, heap, groups, handles and streaming: a view of the one
table in :mod:`framealloc.errors`, kept for this import path (the classes live there too).

>>> import framealloc as fa
>>> print(fa.explain("FA101").splitlines()[0])
FA101 double free
"""
from __future__ import annotations

from .errors import (  # noqa: F401 - re-exported
    DoubleFreeError,
    ForeignFreeError,
    GroupError,
    HandleError,
    PoolError,
    PoolExhaustedError,
    PoolIndexError,
    StaleHandleError,
    StreamingBudgetError,
    StreamingError,
    UseAfterFreeError,
    codes_between,
)

__all__ = [
    "CODES", "PoolError", "DoubleFreeError", "ForeignFreeError", "StaleHandleError",
    "PoolIndexError", "PoolExhaustedError", "UseAfterFreeError", "GroupError", "HandleError",
    "StreamingError", "StreamingBudgetError",
]

CODES = codes_between(101, 129)
