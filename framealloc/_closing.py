"""One rule for every object that can be closed: after ``close()``, a call refuses (FA015).

A SmartAlloc, its pools, typed pools and scratch pools each have a ``_closed`` attribute (falsy
while open) and a ``_raise_closed()`` method. :func:`guard_closed` wraps *every* public method and
property of such a class, found through its MRO, so that it calls ``_raise_closed()`` first when
the object is closed; a method added later is guarded without anyone having to remember it. Only
the names a class lists as ``open_after_close`` are left alone: ``close`` itself, read-only
counters (``stats``, ``info``, ``closed``) and hot paths that refuse by other means (the frame
allocation fast path finds ``limit == -1`` and its slow path raises FA015); the use-after-close
table in the tests checks both groups from the same lists.

The wrappers are made with the globals of the function they wrap, so ``doctest`` still finds
each method's examples in its own module.
"""
from __future__ import annotations

import functools
import types
from typing import Iterable

__all__ = ["guard_closed"]


def _template():
    _fn = None

    def guarded(self, *args, **kwargs):
        if self._closed:
            self._raise_closed()
        return _fn(self, *args, **kwargs)

    return guarded


_CODE = _template().__code__


def _guard(fn):
    g = types.FunctionType(_CODE, fn.__globals__, fn.__name__, None, (types.CellType(fn),))
    functools.update_wrapper(g, fn)
    g.__closed_guard__ = True
    return g


def guard_closed(cls: type, read_only: Iterable[str] = (),
                 self_checked: Iterable[str] = ()) -> type:
    """Guard every public method and property of ``cls`` except ``close``, the ``read_only``
    names (they keep working after close and change nothing) and the ``self_checked`` ones
    (hot paths that refuse by themselves). Records the lists on the class: ``_guarded_names``,
    ``_open_after_close`` (``close`` and the read-only names) and ``_self_checked``."""
    opened = frozenset(read_only) | {"close"}
    checked = frozenset(self_checked)
    keep = opened | checked
    guarded = []
    for name in dir(cls):
        if name.startswith("_") or name in keep:
            continue
        for klass in cls.__mro__:
            if name in vars(klass):
                attr = vars(klass)[name]
                break
        else:  # pragma: no cover - dir() lists it, so some class defines it
            continue
        if isinstance(attr, (staticmethod, classmethod)):
            continue
        if isinstance(attr, property):
            if attr.fget is None or getattr(attr.fget, "__closed_guard__", False):
                continue
            setattr(cls, name, property(_guard(attr.fget), attr.fset, attr.fdel, attr.__doc__))
        elif isinstance(attr, types.FunctionType):
            if getattr(attr, "__closed_guard__", False):
                continue
            setattr(cls, name, _guard(attr))
        else:
            continue
        guarded.append(name)
    cls._guarded_names = frozenset(guarded)
    cls._open_after_close = opened
    cls._self_checked = checked
    return cls
