"""Codes of frame phases (FA158–FA159): a view of the one table in :mod:`framealloc.errors`, kept
for this import path (the classes live there too).

>>> import framealloc as fa
>>> print(fa.explain("FA159").splitlines()[0])
FA159 phase open at end_frame
"""
from __future__ import annotations

from .errors import PhaseError, PhaseWarning, codes_between  # noqa: F401 - re-exported

__all__ = ["PhaseError", "PhaseWarning", "CODES"]

CODES = codes_between(158, 159)
