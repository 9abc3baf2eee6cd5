"""State layout of typed pools and size-class pools (numpy only; no numba here).

Both are *slot tables*: one 256-byte header row of int64 words (a numpy array shared in place by
Python and the njit kernels), plus NRT buffers whose addresses the header holds:

* a generation per slot (int32): odd while the slot is live, even while it is free; it wraps
  within 31 bits, so a handle ``(generation << 32) | slot`` is always a positive int64 and
  always ``>= 2**32``, while a bare index is always ``< 2**32``;
* a free-list stack of slot indices (int32); ``TOP`` free entries, popped LIFO.

A typed pool keeps its records, generations and stack in one NRT buffer (``MI``) that is replaced
when the pool grows. A size class keeps generations and stack in one buffer (``MI``) and its pages
in a page table (``PT``: two words per page, data address and meminfo), so pages never move.

Header words
------------
TOP        free slots on the stack
CAP        length of the generation and stack arrays
SLOTS      usable slots (typed: CAP; size class: live pages * blocks per page); live = SLOTS - TOP
STACK      address of the int32 free stack
GEN        address of the int32 generations
PEAK       most live slots at once
ACQ        acquisitions ever (``released = ACQ - live``)
DATA       typed: address of the records; size class: unused
MI         meminfo of the buffer holding DATA (typed), GEN and STACK
ITEMSIZE   bytes per record (typed) or per block (size class)
POLICY     0 grow, 1 error; CLOSED once the pool is closed
GROWS      times storage grew (typed) or pages were added (size class)
SERIAL     bumped whenever a buffer address changes (Python caches re-read on change)
MAXCAP     most slots the table may have
PT         size class: address of the page table (2 int64 words per page)
PT_MI      size class: meminfo of the page table
PT_CAP     size class: page-table entries allocated
NPAGES     size class: page-table entries in use (trimmed pages leave holes)
LIVE_PAGES size class: pages held
BPP        size class: blocks per page
PAGE_BYTES size class: bytes per page
TRIMMED    size class: pages returned by ``trim()``
OWNER      id of the pool (typed) or of the SmartAlloc (size classes)
TAGS       address of the int32 tag per slot: the tag id a live slot's bytes were attributed to
           when it was acquired (0: untagged; always 0 while the slot is free)

Tags (:mod:`framealloc.tags`): pools made by a SmartAlloc charge every acquire to the calling
thread's tag and the budgets over it, and record the tag in the slot's ``TAGS`` entry so the
release gives the bytes back to that tag, whichever thread releases it.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = ["H", "HDR_WORDS", "HDR_BYTES", "new_headers", "POLICY_GROW", "POLICY_ERROR",
           "POLICY_CLOSED", "POOL_POLICIES", "GEN_MASK", "SLOT_MASK", "MAX_TYPED_SLOTS",
           "CLASS_SHIFT", "MAX_CLASS_SLOTS", "MAX_CLASSES", "gen_offset",
           "stack_offset", "typed_buffer_bytes", "tag_offset", "class_tag_offset",
           "class_buffer_bytes"]

_WORDS = ("TOP", "CAP", "SLOTS", "STACK", "GEN", "PEAK", "ACQ", "DATA", "MI", "ITEMSIZE",
          "POLICY", "GROWS", "SERIAL", "MAXCAP", "PT", "PT_MI", "PT_CAP", "NPAGES", "LIVE_PAGES",
          "BPP", "PAGE_BYTES", "TRIMMED", "OWNER", "TAGS")

#: Word index of each header field; an IntEnum so njit code folds ``h[H.TOP]`` to a constant.
H = IntEnum("H", {name: i for i, name in enumerate(_WORDS)})
#: 32 int64 words = 256 bytes per header row: no two pools' hot words share a cache line.
HDR_WORDS = 32
HDR_BYTES = HDR_WORDS * 8
assert len(_WORDS) <= HDR_WORDS and H.TOP == 0, "header layout"

POLICY_GROW = 0
POLICY_ERROR = 1
POLICY_CLOSED = 9
POOL_POLICIES = ("grow", "error")

#: Generations wrap within 31 bits so handles stay positive int64s.
GEN_MASK = (1 << 31) - 1
#: Low 32 bits of a handle: the slot index.
SLOT_MASK = (1 << 32) - 1
#: Typed pools: slot indices are int32.
MAX_TYPED_SLOTS = (1 << 31) - 1
#: Size-class keys: ``(generation << 32) | (class << CLASS_SHIFT) | slot``.
CLASS_SHIFT = 26
MAX_CLASS_SLOTS = 1 << CLASS_SHIFT
MAX_CLASSES = 32


def gen_offset(cap: int, itemsize: int) -> int:
    """Byte offset of the generations in a typed pool's buffer (records first, 64-aligned)."""
    return (cap * itemsize + 63) & ~63


def stack_offset(cap: int, itemsize: int) -> int:
    """Byte offset of the free stack in a typed pool's buffer."""
    return gen_offset(cap, itemsize) + ((cap * 4 + 63) & ~63)


def tag_offset(cap: int, itemsize: int) -> int:
    """Byte offset of the tag per slot in a typed pool's buffer."""
    return stack_offset(cap, itemsize) + ((cap * 4 + 63) & ~63)


def typed_buffer_bytes(cap: int, itemsize: int) -> int:
    """Bytes of a typed pool's buffer for ``cap`` slots: [records | generations | stack | tags]."""
    return tag_offset(cap, itemsize) + cap * 4


def class_tag_offset(cap: int) -> int:
    """Byte offset of the tags in a size class's slot buffer [generations | stack | tags]
    (the stack starts at ``gen_offset(cap, 4)``)."""
    return 2 * gen_offset(cap, 4)


def class_buffer_bytes(cap: int) -> int:
    """Bytes of a size class's slot buffer for ``cap`` slots."""
    return class_tag_offset(cap) + cap * 4


def new_headers(n: int) -> np.ndarray:
    """``n`` zeroed header rows, ``(n, HDR_WORDS)`` int64, 256-byte aligned."""
    raw = np.zeros(n * HDR_BYTES + HDR_BYTES, np.uint8)
    off = (-raw.ctypes.data) % HDR_BYTES
    return raw[off:off + n * HDR_BYTES].view(np.int64).reshape(n, HDR_WORDS)
