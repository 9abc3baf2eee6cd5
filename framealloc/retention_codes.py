"""Codes of frame retention and promotion (FA163–FA166): a view of the one table in
:mod:`framealloc.errors`, kept for this import path (the class lives there too).

FA163 is raised (a bad argument to ``frame_retained`` / ``frame_with_importance``); FA164–FA166
are never raised: they name the reason of a failed promotion in
``PromotionResult.failed[i].code`` (``end_frame`` reports failures, it does not raise them).
Budget refusals keep their own code (FA154) and out-of-memory pools theirs (FA105).

>>> import framealloc as fa
>>> print(fa.explain("FA165").splitlines()[0])
FA165 scratch pool missing for promotion
"""
from __future__ import annotations

from .errors import RetentionError, codes_between  # noqa: F401 - re-exported

__all__ = ["RetentionError", "CODES"]

CODES = codes_between(163, 166)
