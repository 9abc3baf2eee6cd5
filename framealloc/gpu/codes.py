"""Codes of the GPU family (FA4xx): a view of the one table in :mod:`framealloc.errors` (their
exception classes live in :mod:`framealloc.gpu.errors`; the table names them ``gpu.<Class>``).

>>> import framealloc
>>> framealloc.explain("FA405").splitlines()[0]
'FA405 GPU out of memory'
"""
from __future__ import annotations

from ..errors import codes_between

__all__ = ["CODES"]

CODES = codes_between(400, 499)
