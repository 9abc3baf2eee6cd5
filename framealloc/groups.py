"""Allocation groups: heap arrays with one shared lifetime (a level, a scene, a request).

``gid = alloc.create_group("level-1")``, then ``alloc.group_alloc(gid, shape, dtype)`` /
``alloc.group_box(gid, value)`` hand out tracked heap arrays that the group holds; one
``alloc.free_group(gid)`` drops them all. Arrays you still hold stay valid (they are ordinary
numpy arrays): their bytes leave ``stats().heap.current`` when the last reference goes. Group ids
are never reused: a freed group's id raises :class:`~framealloc.GroupError` (FA113), an id that
was never created FA112. Python-level only (pass the arrays into @njit code).

>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> level = alloc.create_group("level-1")
>>> tiles = alloc.group_alloc(level, (64, 64), np.uint8)
>>> alloc.group_stats(level).bytes
4096
>>> del tiles; alloc.free_group(level)
4096
>>> alloc.stats().heap.current
0
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import numpy as np

from ._dtypes import box_source
from ._slots import check_key
from .heap import HeapTracker
from .errors import GroupError

__all__ = ["GroupRegistry", "GroupInfo"]


@dataclass(frozen=True)
class GroupInfo:
    """Counters of one allocation group."""

    id: int
    name: str
    allocations: int
    bytes: int
    freed: bool


class _Group:
    __slots__ = ("name", "arrays", "nbytes")

    def __init__(self, name: str):
        self.name = name
        self.arrays: list = []
        self.nbytes = 0


class GroupRegistry:
    """The allocation groups of one SmartAlloc."""

    def __init__(self, heap: HeapTracker):
        self._heap = heap
        self._ids = itertools.count(1)
        self._groups: dict[int, _Group] = {}
        self._freed: dict[int, str] = {}
        self._lock = threading.Lock()
        self.created = 0
        self.freed_groups = 0
        self.freed_bytes = 0

    def create(self, name: str = "") -> int:
        """A new group id."""
        with self._lock:
            gid = next(self._ids)
            self._groups[gid] = _Group(str(name) if name else f"group-{gid}")
            self.created += 1
        return gid

    def _get(self, gid) -> tuple[int, _Group]:
        k = check_key(gid)
        g = self._groups.get(k)
        if g is None:
            if k in self._freed:
                raise GroupError(f"group {k} ({self._freed[k]!r}) was already freed; create a "
                                 "new group", code="FA113")
            raise GroupError(f"unknown group {k}; create groups with alloc.create_group()",
                             code="FA112")
        return k, g

    def alloc(self, gid: int, shape, dtype=np.float64, *, zero: bool = False) -> np.ndarray:
        """A tracked heap array held by the group."""
        k, g = self._get(gid)
        arr = self._heap.array(shape, dtype, zero=zero)
        with self._lock:
            if self._groups.get(k) is not g:   # freed meanwhile by another thread
                raise GroupError(f"group {k} was freed meanwhile", code="FA113")
            g.arrays.append(arr)
            g.nbytes += arr.nbytes
        return arr

    def box(self, gid: int, value) -> np.ndarray:
        """A tracked copy of ``value`` held by the group."""
        src = box_source(value)
        out = self.alloc(gid, src.shape, src.dtype)
        out[...] = src
        return out

    def free(self, gid: int) -> int:
        """Drop every array of the group; returns the bytes the group held."""
        with self._lock:
            k, g = self._get(gid)
            del self._groups[k]
            self._freed[k] = g.name
            self.freed_groups += 1
            self.freed_bytes += g.nbytes
            g.arrays.clear()
        return g.nbytes

    def info(self, gid: int) -> GroupInfo:
        k, g = self._get(gid)
        return GroupInfo(k, g.name, len(g.arrays), g.nbytes, False)

    def live(self) -> list[GroupInfo]:
        with self._lock:
            return [GroupInfo(k, g.name, len(g.arrays), g.nbytes, False)
                    for k, g in self._groups.items()]
