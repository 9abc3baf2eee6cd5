"""Codes of named scratch pools (FA160–FA162): a view of the one table in
:mod:`framealloc.errors`, kept for this import path (the classes live there too).

>>> import framealloc as fa
>>> print(fa.explain("FA161").splitlines()[0])
FA161 scratch pool full
"""
from __future__ import annotations

from .errors import ScratchError, ScratchFullError, codes_between  # noqa: F401 - re-exported

__all__ = ["CODES", "ScratchError", "ScratchFullError"]

CODES = codes_between(160, 162)
