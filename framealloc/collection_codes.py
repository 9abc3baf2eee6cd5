"""Codes FA130–FA149 of frame collections and frame layouts: a view of the one table in
:mod:`framealloc.errors`, kept for this import path (the classes live there too).

>>> import framealloc as fa
>>> print(fa.explain("FA131").splitlines()[0])
FA131 FrameVec is full
"""
from __future__ import annotations

from .errors import (  # noqa: F401 - re-exported
    CollectionCapacityError,
    CollectionDtypeError,
    CollectionEmptyError,
    CollectionFullError,
    CollectionIndexError,
    CollectionKeyError,
    CollectionValueError,
    FrameMapKeyError,
    LayoutError,
    codes_between,
)

__all__ = [
    "CODES", "CollectionCapacityError", "CollectionFullError", "CollectionEmptyError",
    "CollectionIndexError", "FrameMapKeyError", "CollectionDtypeError", "CollectionKeyError",
    "CollectionValueError", "LayoutError",
]

CODES = codes_between(130, 149)
