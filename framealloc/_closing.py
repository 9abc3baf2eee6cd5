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
from typing import Iterable, TypeVar

from .kernels.layout import L_DROPPED as _DROPPED, L_HOLDERS as _HOLDERS, LEASE_DTYPE, new_counters

__all__ = ["guard_closed", "Lease", "ClosesWithOwner"]


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


_C = TypeVar("_C")


def guard_closed(cls: type[_C], read_only: Iterable[str] = (),
                 self_checked: Iterable[str] = ()) -> type[_C]:
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
    setattr(cls, "_guarded_names", frozenset(guarded))
    setattr(cls, "_open_after_close", opened)
    setattr(cls, "_self_checked", checked)
    return cls


# -- native leases ------------------------------------------------------------------------------

class Lease:
    """The owner's side of an object's lease (see :mod:`framealloc.kernels.leases`).

    ``cell`` holds two int64 words: how many compiled calls that received the object are
    running, and whether the owner let go. Unboxing the object increments the first word and
    the call's clean-up decrements it, both in numba's call wrapper with the GIL held, so the
    count is exact (also when the call raises). :meth:`drop` is the owner letting go
    (``close()``, or the object's garbage collection): ``on_last`` runs once, at once when no
    call is running, otherwise when the last running call returns (its clean-up calls the
    object's ``_native_exit()``, which calls :meth:`exit`). So memory is never released under
    running compiled code. (A new call after ``close()`` refuses when unboxing: FA015.)
    """

    __slots__ = ("cell", "addr", "_on_last", "_done")

    def __init__(self, on_last):
        self.cell = new_counters(LEASE_DTYPE)   # int64 words: holders, dropped
        self.addr = int(self.cell.ctypes.data)
        self._on_last = on_last
        self._done = False

    def holders(self) -> int:
        """How many compiled calls holding the object are running now."""
        return int(self.cell[_HOLDERS])

    def drop(self) -> None:
        """The owner lets go (idempotent)."""
        self.cell[_DROPPED] = 1
        if self.cell[_HOLDERS] == 0:
            self._last()

    def exit(self) -> None:
        """A running call returned: release if it was the last one and the owner let go."""
        if self.cell[_DROPPED] and self.cell[_HOLDERS] == 0:
            self._last()

    def _last(self) -> None:
        if not self._done:
            self._done = True
            self._on_last()


class ClosesWithOwner:
    """Base of objects a SmartAlloc hands out that close with it (handle heaps, streaming
    allocators): after ``alloc.close()`` every guarded call raises FA015."""

    _owner_ref = None

    def _link_owner(self, alloc):
        """Close with ``alloc`` (held weakly); returns ``self``."""
        import weakref

        self._owner_ref = weakref.ref(alloc)
        return self

    @property
    def _closed(self) -> bool:
        ref = self._owner_ref
        a = ref() if ref is not None else None
        return a is not None and a._closed

    def _raise_closed(self):
        from .errors import error
        from .kernels.status import Status

        raise error(Status.CLOSED, what="the SmartAlloc this object belongs to")
