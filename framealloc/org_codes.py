"""Codes of budgets and tags (FA150–FA157) and thread coordination (FA170–FA179): a view of the
one table in :mod:`framealloc.errors`, kept for this import path (the classes live there too).

>>> import framealloc as fa
>>> print(fa.explain("FA154").splitlines()[0])
FA154 hard budget exceeded
"""
from __future__ import annotations

from .errors import (  # noqa: F401 - re-exported
    BudgetError,
    BudgetExceededError,
    BudgetWarning,
    TagError,
    codes_between,
)

__all__ = ["TagError", "BudgetError", "BudgetExceededError", "BudgetWarning", "CODES"]

CODES = {**codes_between(150, 157), **codes_between(170, 179)}
