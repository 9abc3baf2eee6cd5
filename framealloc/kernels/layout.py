"""Every kind of allocator state, as a documented structured dtype (numpy only).

This module is the bottom layer of framealloc: it imports numpy and nothing from framealloc, and
everything else (the ``@njit`` kernels, their numba surface, the Python API) takes its state
layouts from here. Each layout is a :class:`Layout`: a name, an ``np.dtype`` with named fields, a
summary and one line of documentation per field (``LAYOUTS`` lists them all; the tables in
``docs/architecture.md`` can be generated with :func:`field_table`).

One source of truth
-------------------
State arrays are allocated with these dtypes, so Python reads a field by name
(``rows["frame_open"]``). Kernels reach the same words either as records or through *word
indices generated from the dtype*: :func:`word_index` turns a layout into an ``IntEnum`` of word
offsets (``row[F.cursor]``, ``h[H.TOP]``), and the module-level ints below (``B_HARD``,
``RB_DEPTH``, ``S_CURSOR``, ...) are ``dtype.fields[name][1] // 8``. Numba folds both kinds of
constant, so the compiled hot paths are the same as with hand-written numbers -- but a field can
no longer be renumbered in one place and forgotten in another. Where a kernel needs raw int64
words (the ``ld``/``st`` kernels over addresses, numpy fancy indexing in Python), the array is
the ``int64`` view of a structured array (:func:`words`).

Layouts
-------
========================  ====================================================================
``ARENA_ROW``             one frame arena (per thread slot and numba worker): cursor, limit, ...
``CHECKPOINT``            one entry of an arena row's checkpoint stack
``POOL_HEADER``           a slot table's header (typed pool; one per size class)
``SLOT``                  the per-slot columns of a slot table (in its NRT buffer)
``PAGE``                  one entry of a size class's page table
``TYPED_RETIRED``         counters of the typed pools a SmartAlloc has closed
``ORG_HEADER``            the organisation header (tags, budgets, events) of a SmartAlloc
``TAG``                   one row of the tag table
``TAG_COUNTERS``          counters of one tag and kind
``BUDGET``                one budget row
``BUDGET_EVENT``          one entry of the budget event ring
``ORG_ROW``               an arena row's own organisation block (tag stack, leases, log)
``SEGMENT``               one entry of an organisation block's segment log
``HISTORY``               one entry of a thread's frame-history ring (one per frame ended)
``HISTORY_DETAIL``        one entry of its detail ring (frames ended by the end_frame kernel)
``SCRATCH_POOL``          one scratch pool (row of an allocator's scratch table)
``SCRATCH_TAGS``          bytes each tag holds in one scratch pool
``SCRATCH_REGISTRY``      one row of the process-wide scratch registry
``VEC_HEADER``            a FrameVec's header (in frame memory, before its elements)
``MAP_HEADER``            a FrameMap's header (in frame memory, before its slot states)
``HEAP_COUNTERS``         a HeapTracker's counters
``STREAMING_COUNTERS``    a StreamingAllocator's counters
``HANDLE_SLOT``           one slot of a HandleHeap's table
``LEASE``                 the lease cell of an object @njit code may hold (framealloc._closing)
========================  ====================================================================

Not here, on purpose: phases keep their state in Python records (per-thread lists of
``PhaseStats``; what they count is read from ``ARENA_ROW`` and ``ORG_ROW`` fields), and the GPU
allocator's frame rings keep their cursors in ``__slots__`` attributes of Python objects (their
hot path runs in CPython, where an attribute is faster than a numpy element); neither has an
array to describe.
"""
from __future__ import annotations

import threading
from enum import IntEnum
from typing import Callable, NamedTuple

import numpy as np

_I8 = np.dtype("<i8")


# ---------------------------------------------------------------------------------------------
# The registry of layouts and the helpers that derive constants from them

class Layout(NamedTuple):
    """One kind of state: its dtype, what it is, and one line per field.

    ``make`` rebuilds the dtype for a parameter (layouts whose size depends on
    ``AllocConfig.max_tags``): the length of sub-array field ``param``; ``dtype`` is then the
    layout for a small example parameter.
    """

    name: str
    dtype: np.dtype
    doc: str
    fields: dict
    make: Callable[..., np.dtype] | None = None
    param: str | None = None


#: Every layout, by name (the order of the module documentation).
LAYOUTS: dict[str, Layout] = {}


def _record(name: str, doc: str, fields, words: int | None = None, *, fmt="<i8",
            register: bool = True) -> np.dtype:
    """A structured dtype of ``fmt`` words at consecutive offsets, padded to ``words`` words.

    ``fields``: ``(name, doc)``, ``(name, doc, count)`` (a sub-array of ``count`` words) or
    ``(name, doc, count, at)`` (starting at word ``at``; the words skipped are padding).
    """
    names, formats, offsets, docs = [], [], [], {}
    item = np.dtype(fmt).itemsize
    at = 0
    for f in fields:
        fname, fdoc = f[0], f[1]
        count = f[2] if len(f) > 2 else 1
        if len(f) > 3:
            assert f[3] >= at, f"{name}.{fname} overlaps the field before it"
            at = f[3]
        names.append(fname)
        formats.append(fmt if count == 1 else (fmt, (count,)))
        offsets.append(at * item)
        docs[fname] = fdoc
        at += count
    if words is None:
        words = at
    assert at <= words, f"{name} overflows its {words} words"
    dt = np.dtype({"names": names, "formats": formats, "offsets": offsets,
                   "itemsize": words * item, "aligned": True})
    if register:
        LAYOUTS[name] = Layout(name, dt, doc, docs)
    return dt


def _word(dt: np.dtype, name: str) -> int:
    """Word (int64) index of field ``name`` of ``dt``."""
    off = dt.fields[name][1]
    assert off % 8 == 0, name
    return off // 8


def word_index(dt: np.dtype, enum_name: str, upper: bool = False) -> type[IntEnum]:
    """An ``IntEnum`` of the word index of every field of ``dt`` (``F.cursor``, ``H.TOP``); numba
    folds its members to constants."""
    return IntEnum(enum_name, {(n.upper() if upper else n): _word(dt, n) for n in dt.names})


def words(rec: np.ndarray) -> np.ndarray:
    """The int64 words of a structured state array: shape ``rec.shape + (words per record,)``,
    sharing its memory (what kernels and numpy fancy indexing use)."""
    n = rec.dtype.itemsize // 8
    return rec.view(np.int64).reshape(rec.shape + (n,)) if rec.ndim else \
        rec.reshape(1).view(np.int64)


def layout_of(dt: np.dtype) -> Layout | None:
    """The documented layout a state dtype is an instance of, or None."""
    for lay in LAYOUTS.values():
        if lay.make is None:
            if dt == lay.dtype:
                return lay
        elif dt.names == lay.dtype.names and dt == lay.make(dt.fields[lay.param][0].shape[0]):
            return lay
    return None


def field_table(name: str) -> str:
    """A reStructuredText table of a layout's fields: byte offset, name (with its length for a
    sub-array), meaning."""
    lay = LAYOUTS[name]
    rows = []
    for f, doc in lay.fields.items():
        sub, off = lay.dtype.fields[f][:2]
        rows.append((str(off), f + (f"[{sub.shape[0]}]" if sub.shape else ""), doc))
    w = [max(len(r[i]) for r in rows + [("offset", "field", "")]) for i in range(2)]
    rule = f"{'=' * w[0]}  {'=' * w[1]}  {'=' * 60}"
    out = [rule, f"{'offset':<{w[0]}}  {'field':<{w[1]}}  meaning", rule]
    out += [f"{a:<{w[0]}}  {b:<{w[1]}}  {c}" for a, b, c in rows]
    return "\n".join(out + [rule])


def new_counters(dt: np.dtype) -> np.ndarray:
    """A zeroed record of an all-int64 counters layout, as its int64 words (``.base`` is the
    record)."""
    return np.zeros(1, dt).view(np.int64)


def _aligned_zeros(nbytes: int, align: int) -> np.ndarray:
    raw = np.zeros(nbytes + align, np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + nbytes]


# ---------------------------------------------------------------------------------------------
# Frame arenas

#: Words (int64) per arena row: 256 bytes = four cache lines, the hot fields in the first.
ROW_WORDS = 32
ROW_BYTES = ROW_WORDS * 8
#: Chunk bases are aligned to a page so every alignment up to 4096 costs at most its padding.
CHUNK_ALIGN = 4096

ARENA_DTYPE = _record("ARENA_ROW", """\
One frame arena. A SmartAlloc owns a ``(max_threads, workers)`` block of rows: one row of workers
per Python thread slot, one column per numba worker thread, so ``prange`` bodies (indexed by
``numba.get_thread_id()``) and different Python threads never share a cursor. Rows are 256 bytes
and the block is 256-byte aligned: no two rows share a cache line, nor an adjacent-line prefetch
pair. The field names are also the ``stats()`` vocabulary.""", (
    ("cursor", "offset of the next free byte in the current chunk"),
    ("limit", "bytes usable in the current chunk while a frame is open; -1 while no frame is "
              "open, so the one bounds check of the hot path also catches 'outside a frame'"),
    ("base", "address of the current chunk's first byte (aligned to CHUNK_ALIGN)"),
    ("count", "allocations made in the current frame"),
    ("capacity", "usable bytes of the current chunk"),
    ("meminfo", "NRT meminfo owning the current chunk (one reference held by this row); 0: none"),
    ("used_before", "bytes consumed in chunks retired during this frame"),
    ("frame_open", "1 between begin_frame and end_frame"),
    ("frame_number", "frames begun on this row"),
    ("chunk_seq", "increments each time the current chunk is replaced"),
    ("peak_frame", "highest position (used_before + cursor) reached in the current frame"),
    ("peak", "highest position reached in any frame"),
    ("allocated_total", "bytes consumed in finished frames and rolled-back stretches"),
    ("count_total", "allocations in finished frames"),
    ("chunks_grown", "chunks added because a frame outgrew its chunk"),
    ("heap_fallbacks", "allocations served from the heap by the 'heap' policy"),
    ("heap_fallback_bytes", "bytes of those"),
    ("cp_serial", "checkpoints taken in the current frame"),
    ("cp_depth", "checkpoints live on this frame's checkpoint stack"),
    ("last_frame_peak", "peak position of the previous frame"),
    ("rollbacks", "rollbacks performed in total"),
    ("policy", "0 grow, 1 error, 2 heap (AllocConfig.on_frame_exhausted)"),
    ("chunk_size", "first chunk size for 'grow'; the fixed chunk size for 'error'/'heap'"),
    ("owner", "id of the Python thread arena using this row (0: slot free)"),
    ("reserved_bytes", "bytes of arena chunks held by this row (current chunk)"),
    ("heap_list", "NRT meminfo of the newest 'heap' fallback of this frame (a list through each "
                  "fallback's first word), released at end_frame; 0: none"),
    ("tag", "id of the tag this row's allocations are attributed to (0: untagged)"),
    ("seg_pos", "position where the current tag segment began (bytes before it are attributed)"),
    ("seg_count", "count when the current tag segment began"),
    ("budget_end", "position up to which this row has leased budget bytes (NO_LIMIT: no budget "
                   "applies); the row's limit never passes it, so the hot path enforces budgets"),
    ("orgrow", "address of this row's organisation block (ORG_ROW)"),
    ("org", "address of the allocator's organisation header (ORG_HEADER)"),
), ROW_WORDS)

#: The arena fields in word order.
ARENA_FIELDS = ARENA_DTYPE.names
#: Word index of each arena field (``row[F.cursor]``); an IntEnum so njit code folds it.
F = word_index(ARENA_DTYPE, "F")
assert F.cursor == 0 and F.limit == 1 and F.base == 2 and F.count == 3, "hot fields moved"

CHECKPOINT_DTYPE = _record("CHECKPOINT", """\
One entry of an arena row's checkpoint stack (``AllocConfig.checkpoint_slots`` entries per row).""",
                           (("serial", "the checkpoint's serial in its frame (cp_serial)"),
                            ("position", "the position (used_before + cursor) it restores")))


NATIVE_DTYPE = _record("NATIVE", """\
The native table of a SmartAlloc: what a SmartAlloc argument of an @njit function unboxes to,
found by the calling thread's ident without running Python. Row 0 is the header (``ident``: the
number of entries); entry ``1 + slot`` is the thread slot's, written by ``_native_handle()`` on
the thread's first compiled call and cleared (``ident`` 0) when the thread's local storage goes,
when the slot is released and at ``close()``.""", (
    ("ident", "the thread's ident (threading.get_ident()); 0: no entry. Row 0: entries"),
    ("rows", "address of the slot's first arena row (ARENA)"),
    ("cps", "address of the slot's checkpoint stacks (CHECKPOINT)"),
    ("workers", "arena rows per slot (numba worker threads)"),
    ("depth", "entries per checkpoint stack (AllocConfig.checkpoint_slots)"),
    ("owner", "the allocator's id (checkpoint ownership)"),
    ("slot", "the thread arena's id (FrameCheckpoint.thread)"),
    ("lease", "address of the allocator's lease (LEASE), held while a compiled call runs"),
))


def new_native_table(slots: int) -> np.ndarray:
    """A native table for ``slots`` thread slots: the header row, then one entry per slot."""
    tab = np.zeros(slots + 1, NATIVE_DTYPE)
    tab["ident"][0] = slots
    return tab


def new_arena_block(slots: int, workers: int) -> np.ndarray:
    """A zeroed ``(slots, workers)`` block of arena rows, 256-byte aligned (``limit`` -1)."""
    buf = _aligned_zeros(slots * workers * ROW_BYTES, ROW_BYTES)
    rows = buf.view(ARENA_DTYPE).reshape(slots, workers)
    rows["limit"] = -1
    return rows


def new_checkpoint_block(slots: int, workers: int, depth: int) -> np.ndarray:
    """The checkpoint stacks: ``depth`` entries per arena row."""
    return np.zeros((slots, workers, depth), CHECKPOINT_DTYPE)


# ---------------------------------------------------------------------------------------------
# Slot tables: typed pools and size classes

#: 32 int64 words = 256 bytes per header row: no two pools' hot words share a cache line.
POOL_HDR_WORDS = 32
POOL_HDR_BYTES = POOL_HDR_WORDS * 8

POOL_HEADER_DTYPE = _record("POOL_HEADER", """\
The header of a slot table: a typed pool has one, a SizeClassPools one per size class. The slots'
columns (SLOT) live in an NRT buffer whose addresses the header holds. A typed pool keeps its
records, generations, stack and tags in one buffer (``mi``) that is replaced when the pool grows:
``[records | generations | stack | tags]``, each part 64-byte aligned (``typed_buffer_bytes``). A
size class keeps generations, stack and tags in one buffer (``mi``) and its pages in a page table
(``pt``, PAGE entries), so pages never move.""", (
    ("top", "free slots on the stack"),
    ("cap", "length of the generation and stack arrays"),
    ("slots", "usable slots (typed: cap; size class: live pages * blocks per page); "
              "live = slots - top"),
    ("stack", "address of the int32 free stack"),
    ("gen", "address of the int32 generations"),
    ("peak", "most live slots at once"),
    ("acq", "acquisitions ever (released = acq - live)"),
    ("data", "typed: address of the records; size class: unused"),
    ("mi", "meminfo of the buffer holding data (typed), gen and stack"),
    ("itemsize", "bytes per record (typed) or per block (size class)"),
    ("policy", "POLICY_GROW, POLICY_ERROR; POLICY_CLOSED once the pool is closed"),
    ("grows", "times storage grew (typed) or pages were added (size class)"),
    ("serial", "bumped whenever a buffer address changes (Python caches re-read on change)"),
    ("maxcap", "most slots the table may have"),
    ("pt", "size class: address of the page table (PAGE entries)"),
    ("pt_mi", "size class: meminfo of the page table"),
    ("pt_cap", "size class: page-table entries allocated"),
    ("npages", "size class: page-table entries in use (trimmed pages leave holes)"),
    ("live_pages", "size class: pages held"),
    ("bpp", "size class: blocks per page"),
    ("page_bytes", "size class: bytes per page"),
    ("trimmed", "size class: pages returned by trim()"),
    ("owner", "id of the pool (typed) or of the SmartAlloc (size classes)"),
    ("tags", "address of the int32 tag per slot: the tag id a live slot's bytes were attributed "
             "to when it was acquired (0: untagged; always 0 while the slot is free)"),
), POOL_HDR_WORDS)

#: Word index of each header field (``h[H.TOP]``); an IntEnum so njit code folds it.
H = word_index(POOL_HEADER_DTYPE, "H", upper=True)
assert H.TOP == 0, "header layout"

SLOT_DTYPE = _record("SLOT", """\
The per-slot columns of a slot table. They are stored column by column (struct of arrays: every
generation, then the free stack, then every tag, each part 64-byte aligned) in the table's NRT
buffer, at the header's gen, stack and tags addresses; this record names the columns.""", (
    ("gen", "generation: odd while the slot is live, even while it is free; it wraps within 31 "
            "bits, so a handle (gen << 32) | slot is a positive int64 >= 2**32, while a bare "
            "index is < 2**32"),
    ("stack", "free-list stack entry: a free slot index (the first top entries are valid, "
              "popped LIFO)"),
    ("tag", "tag id the live slot's bytes were charged to (0: untagged or free)"),
), fmt="<i4")

PAGE_DTYPE = _record("PAGE", """\
One entry of a size class's page table (at the header's pt address; pt_cap entries).""",
                     (("data", "address of the page's first block (0: trimmed)"),
                      ("meminfo", "NRT meminfo of the page")))

TYPED_RETIRED_DTYPE = _record("TYPED_RETIRED", """\
Counters of the typed pools a SmartAlloc made and that are closed now (added when each closes),
so the allocator's typed-pool totals stay exact.""", (
    ("acquired", "acquisitions"),
    ("released", "releases (acquired - live at close)"),
    ("peak_bytes", "sum of the pools' peak live bytes"),
    ("grows", "times storage grew"),
    ("acquired_bytes", "bytes acquired"),
))
TR_ACQUIRED, TR_RELEASED, TR_PEAK_BYTES, TR_GROWS, TR_ACQUIRED_BYTES = (
    _word(TYPED_RETIRED_DTYPE, n) for n in TYPED_RETIRED_DTYPE.names)

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


def new_pool_headers(n: int) -> np.ndarray:
    """``n`` zeroed POOL_HEADER records, 256-byte aligned (``words(...)``: the kernels' view)."""
    return _aligned_zeros(n * POOL_HDR_BYTES, POOL_HDR_BYTES).view(POOL_HEADER_DTYPE)


# ---------------------------------------------------------------------------------------------
# Organisation: tags, budgets, events
#
# All tables are owned by the SmartAlloc (OrgTables); kernels reach them through the ``org``
# address stored in every arena row (the header), Python through numpy views. Counters shared
# between threads (tag counters, budgets, the event ring) are only changed with atomic
# instructions by the kernels (framealloc.kernels.org); per-row state (the tag stack, the segment
# log, this frame's bytes per tag) belongs to one thread or prange worker.

KIND_FRAME, KIND_POOL, KIND_HEAP, KIND_SCRATCH = 0, 1, 2, 3
KINDS = 4
KIND_NAMES = ("frame", "pool", "heap", "scratch")

ORG_HEADER_DTYPE = _record("ORG_HEADER", """\
The organisation header of a SmartAlloc: counts and the addresses of its tables.""", (
    ("ntags", "tags registered (tag 0 is the root, '')"),
    ("maxtags", "capacity of the tag tables (AllocConfig.max_tags)"),
    ("active", "budgets with a soft or hard limit (0: no budget work anywhere)"),
    ("events", "budget events written so far (the ring index is events % EVENT_CAP)"),
    ("quantum", "bytes a frame row leases from its budgets at a time (AllocConfig.budget_lease)"),
    ("tags", "address of the tag table (TAG rows)"),
    ("ctrs", "address of the tag counters (TAG_COUNTERS, KINDS per tag)"),
    ("budgets", "address of the budget table (BUDGET rows)"),
    ("events_addr", "address of the event ring (BUDGET_EVENT entries)"),
    ("nbudgets", "rows of the budget table"),
    ("hits", "hard budget refusals, all budgets"),
    ("soft", "soft budget events, all budgets"),
    ("debug_sites", "address of the debug-mode table of @njit allocation sites (DEBUG_SITE "
                    "entries, DEBUG_SITES per arena row); 0: not in debug mode"),
), 16)
ORG_HDR_WORDS = ORG_HEADER_DTYPE.itemsize // 8
(H_NTAGS, H_MAXTAGS, H_ACTIVE, H_EVENTS, H_QUANTUM, H_TAGS, H_CTRS, H_BUDGETS, H_EVENTS_ADDR,
 H_NBUDGETS, H_HITS, H_SOFT, H_DEBUG_SITES) = (_word(ORG_HEADER_DTYPE, n)
                                               for n in ORG_HEADER_DTYPE.names)

#: Entries of the debug-mode site table per arena row: distinct @njit allocation sites
#: remembered per frame (more sites in one frame are counted in the last entry).
DEBUG_SITES = 16

DEBUG_SITE_DTYPE = _record("DEBUG_SITE", """\
One entry of the debug-mode table of @njit allocation sites (``AllocConfig(debug=True)``;
DEBUG_SITES entries per arena row, in row order): a compiled function that allocated in a frame.""",
                           (("name", "address of the function's name, a constant string of the "
                                     "compiled code (0: entry free)"),
                            ("frame", "frame number of the row when the entries were written"),
                            ("count", "allocations made there in that frame"),
                            ("nbytes", "bytes of those")))
DS_WORDS = DEBUG_SITE_DTYPE.itemsize // 8
DS_NAME, DS_FRAME, DS_COUNT, DS_BYTES = (_word(DEBUG_SITE_DTYPE, n)
                                         for n in DEBUG_SITE_DTYPE.names)

TAG_DTYPE = _record("TAG", "One row of the tag table (tag ids index it; max_tags rows).", (
    ("parent", "id of the parent tag (0: the root)"),
    ("depth", "tags on the path from the root (root 0)"),
), 4)
TAG_WORDS = TAG_DTYPE.itemsize // 8
T_PARENT, T_DEPTH = _word(TAG_DTYPE, "parent"), _word(TAG_DTYPE, "depth")
#: Deepest tag path: a budget scope (total, kind, the tag chain, thread) must fit MAX_SCOPE ids.
MAX_TAG_DEPTH = 16

TAG_COUNTERS_DTYPE = _record("TAG_COUNTERS", """\
Counters of one tag and one kind (table shape ``(max_tags, KINDS)``), changed atomically.""", (
    ("current", "live bytes"),
    ("peak", "highest live bytes"),
    ("allocated", "bytes ever allocated"),
    ("freed", "bytes ever freed"),
    ("count", "allocations"),
    ("frees", "frees"),
))
CTR_WORDS = TAG_COUNTERS_DTYPE.itemsize // 8
C_CURRENT, C_PEAK, C_ALLOCATED, C_FREED, C_COUNT, C_FREES = (
    _word(TAG_COUNTERS_DTYPE, n) for n in TAG_COUNTERS_DTYPE.names)

BUDGET_DTYPE = _record("BUDGET", """\
One budget. Ids: 0 total (every kind), 1 frame, 2 pool, 3 heap, 4 scratch, TAG_BUDGET0 + tag (a
tag and its descendants, every kind), TAG_BUDGET0 + max_tags + slot (one thread's frames).""", (
    ("active", "1 while a soft or hard limit is set"),
    ("soft", "soft limit in bytes (NO_LIMIT: none)"),
    ("hard", "hard limit in bytes (NO_LIMIT: none)"),
    ("used", "bytes charged now (frame rows: leased)"),
    ("peak", "highest used"),
    ("soft_events", "times used passed the soft limit (once per frame at most)"),
    ("hard_hits", "charges the hard limit refused"),
    ("soft_frame", "frame number of the last soft event (-1: none)"),
    ("soft_seen", "soft events already delivered to Python callbacks"),
), 12)
BUDGET_WORDS = BUDGET_DTYPE.itemsize // 8
(B_ACTIVE, B_SOFT, B_HARD, B_USED, B_PEAK, B_SOFT_EVENTS, B_HARD_HITS, B_SOFT_FRAME,
 B_SOFT_SEEN) = (_word(BUDGET_DTYPE, n) for n in BUDGET_DTYPE.names)
NO_LIMIT = 1 << 62
#: Budget ids: the total, then one per kind (``1 + KIND_*``), then one per tag from TAG_BUDGET0.
B_TOTAL = 0
B_FRAME, B_POOL, B_HEAP, B_SCRATCH = (1 + k for k in (KIND_FRAME, KIND_POOL, KIND_HEAP,
                                                      KIND_SCRATCH))
TAG_BUDGET0 = 1 + KINDS

BUDGET_EVENT_DTYPE = _record("BUDGET_EVENT", """\
One entry of the budget event ring (EVENT_CAP entries, written round-robin).""", (
    ("kind", "EV_SOFT (1) or EV_HARD (2)"),
    ("budget", "budget id"),
    ("used", "bytes used before the charge"),
    ("request", "bytes requested"),
    ("frame", "frame number of the row"),
    ("slot", "thread slot"),
))
EVENT_WORDS = BUDGET_EVENT_DTYPE.itemsize // 8
E_KIND, E_BUDGET, E_USED, E_REQUEST, E_FRAME, E_SLOT = (
    _word(BUDGET_EVENT_DTYPE, n) for n in BUDGET_EVENT_DTYPE.names)
EVENT_CAP = 256
EV_SOFT, EV_HARD = 1, 2

TAG_STACK_DEPTH = 16
MAX_SCOPE = 36        # room for budget ids in one scope: total, kind, tag chain, thread
LOG_CAP = 128         # tag switches recorded while a checkpoint is live

_ORG_ROW_HEADER = (
    ("depth", "entries on the njit tag stack"),
    ("slot", "thread slot of the row"),
    ("log", "entries in the segment log"),
    ("other_bytes", "bytes of other kinds (pool, heap, scratch) charged by this thread"),
    ("other_count", "allocations of other kinds charged by this thread"),
    ("nlease", "entries of lease_ids in use"),
    ("ooms", "allocations refused for lack of memory"),
    ("joined", "worker rows of this thread slot that joined the open frame (kept in the slot's "
               "first row's block; see arena.join_frame)"),
    ("stack", "njit tag stack: the tags to return to", TAG_STACK_DEPTH, 8),
    ("lease_ids", "budget ids the current segment's lease charged", MAX_SCOPE),
    ("charge_ids", "scratch list of budget ids for one direct charge", MAX_SCOPE),
    ("closed", "writes to tag_bytes/tag_counts in the current frame (tag segments closed with "
               "bytes, heap fallbacks); 0: end_frame has nothing to settle but the open segment"),
    ("history", "address of the thread's frame-history ring (HISTORY entries; kept in the "
                "slot's first block; 0: no history, AllocConfig.history=0)"),
    ("hist_mask", "history ring entries - 1 (a power of two - 1): frame n is entry n & hist_mask"),
    ("hist_detail", "address of the thread's history detail ring (HISTORY_DETAIL entries)"),
    ("tp_count", "transparent allocations served in the current frame (framealloc.transparent: "
                 "written by the hook on the row's thread, zeroed when the frame is settled)"),
    ("tp_bytes", "bytes of those (also in tag_bytes, like heap fallbacks)"),
    ("tp_freed", "debug mode: (frame number << 32) | transparent arrays of that frame freed so "
                 "far, on any thread (atomic; a free of an older frame's array leaves it)"),
)
#: The fixed part of an ORG_ROW (what ``RB_*`` index).
ORG_ROW_HEADER_DTYPE = _record("ORG_ROW_HEADER", "", _ORG_ROW_HEADER, register=False)
RB_HDR = ORG_ROW_HEADER_DTYPE.itemsize // 8
(RB_DEPTH, RB_SLOT, RB_LOG, RB_OTHER_BYTES, RB_OTHER_COUNT, RB_NLEASE, RB_OOMS, RB_JOINED,
 RB_STACK, RB_LEASE_IDS, RB_CHARGE_IDS, RB_CLOSED, RB_HISTORY, RB_HIST_MASK, RB_HIST_DETAIL,
 RB_TP_COUNT, RB_TP_BYTES, RB_TP_FREED) = (
    _word(ORG_ROW_HEADER_DTYPE, n) for n in ORG_ROW_HEADER_DTYPE.names)
assert 3 + MAX_TAG_DEPTH <= MAX_SCOPE and (RB_HDR, RB_STACK, RB_LEASE_IDS, RB_CHARGE_IDS) == \
    (103, 8, 24, 60), "org row header moved"

SEGMENT_DTYPE = _record("SEGMENT", """\
One entry of an organisation block's segment log: a tag segment closed while a checkpoint was
live, so a rollback can give its bytes back to its tag.""", (
    ("tag", "tag the segment's bytes went to"),
    ("start", "position where the segment began"),
))
LOG_WORDS = SEGMENT_DTYPE.itemsize // 8
LG_TAG, LG_START = _word(SEGMENT_DTYPE, "tag"), _word(SEGMENT_DTYPE, "start")


def org_row_dtype(max_tags: int) -> np.dtype:
    """ORG_ROW for ``max_tags`` tags: the header, this frame's bytes and allocations per tag
    (``RB_HDR + tag``, ``RB_HDR + max_tags + tag``), then the segment log."""
    h = ORG_ROW_HEADER_DTYPE
    n = h.itemsize
    return np.dtype({
        "names": list(h.names) + ["tag_bytes", "tag_counts", "segments"],
        "formats": [h.fields[f][0] for f in h.names] + [(_I8, (max_tags,)), (_I8, (max_tags,)),
                                                        (SEGMENT_DTYPE, (LOG_CAP,))],
        "offsets": [h.fields[f][1] for f in h.names] + [n, n + 8 * max_tags, n + 16 * max_tags],
        "itemsize": n + 16 * max_tags + LOG_CAP * SEGMENT_DTYPE.itemsize,
        "aligned": True})


LAYOUTS["ORG_ROW"] = Layout("ORG_ROW", org_row_dtype(4), """\
An arena row's own organisation block (one per thread slot and numba worker; its address is the
row's orgrow field): the tag stack and lease, this frame's bytes per tag, and the segment log.
Its size depends on AllocConfig.max_tags.""", {
    **{f[0]: f[1] for f in _ORG_ROW_HEADER},
    "tag_bytes": "frame bytes attributed to each tag in the current frame (max_tags)",
    "tag_counts": "frame allocations attributed to each tag in the current frame (max_tags)",
    "segments": "segment log (LOG_CAP SEGMENT entries): tag segments closed under a checkpoint",
}, org_row_dtype, "tag_bytes")


def row_block_words(max_tags: int) -> int:
    """Words of one row's organisation block: header, bytes and counts per tag, segment log."""
    return org_row_dtype(max_tags).itemsize // 8


HISTORY_DTYPE = _record("HISTORY", """\
One entry of a thread's frame-history ring (``AllocConfig.history`` frames, rounded up to a power
of two, one ring per thread slot): written when the thread's frame ends, by the end_frame kernel
or by the inlined @njit fast path (four stores), from counters the arena keeps anyway. Frame n is
entry ``n & hist_mask``; every frame ended since the thread attached has one. 32 bytes, so the
600 frames of the default fit in 32 KiB.""", (
    ("bytes", "frame bytes in use when the frame ended (used_before + cursor, every row)"),
    ("allocations", "frame allocations made in the frame"),
    ("peak", "highest frame position reached in the frame"),
    ("other_bytes", "pool, heap and scratch bytes charged by the thread so far (cumulative)"),
))
HIST_WORDS = HISTORY_DTYPE.itemsize // 8
HI_BYTES, HI_ALLOCATIONS, HI_PEAK, HI_OTHER_BYTES = (
    _word(HISTORY_DTYPE, n) for n in HISTORY_DTYPE.names)
assert HIST_WORDS == 4, "a history entry is 32 bytes"

_HISTORY_DETAIL = (
    ("frame", "frame number the entry belongs to (another number: the frame ended on the @njit "
              "fast path, which writes no detail: nothing tagged, no fallback, no clock read)"),
    ("fallbacks", "'heap' policy fallbacks in the frame"),
    ("other_count", "pool, heap and scratch allocations charged by the thread so far"),
    ("ticks", "CPU timestamp counter when the frame ended (kernels._intrinsics.cycles)"),
    ("tp_count", "transparent allocations served in the frame (framealloc.transparent)"),
    ("tp_bytes", "bytes of those"),
    ("tp_alive", "debug mode: of those, arrays still alive when the frame ended (-1: not "
                 "counted, the allocator is not in debug mode)"),
)
HISTORY_DETAIL_HEADER_DTYPE = _record("HISTORY_DETAIL_HEADER", "", _HISTORY_DETAIL,
                                      register=False)
HD_HDR = HISTORY_DETAIL_HEADER_DTYPE.itemsize // 8
HD_FRAME, HD_FALLBACKS, HD_OTHER_COUNT, HD_TICKS, HD_TP_COUNT, HD_TP_BYTES, HD_TP_ALIVE = (
    _word(HISTORY_DETAIL_HEADER_DTYPE, n) for n in HISTORY_DETAIL_HEADER_DTYPE.names)


def history_detail_dtype(max_tags: int) -> np.dtype:
    """HISTORY_DETAIL for ``max_tags`` tags: the header, then each tag's frame bytes."""
    h = HISTORY_DETAIL_HEADER_DTYPE
    return np.dtype({"names": list(h.names) + ["tag_bytes"],
                     "formats": [h.fields[f][0] for f in h.names] + [(_I8, (max_tags,))],
                     "offsets": [h.fields[f][1] for f in h.names] + [h.itemsize],
                     "itemsize": h.itemsize + 8 * max_tags, "aligned": True})


LAYOUTS["HISTORY_DETAIL"] = Layout("HISTORY_DETAIL", history_detail_dtype(4), """\
One entry of a thread's frame-history detail ring (beside HISTORY, same indexing): what only the
end_frame kernel writes (frames ended from Python, or on the @njit slow path: tagged frames, heap
fallbacks, budgets, prange workers). Its size depends on AllocConfig.max_tags.""", {
    **{f[0]: f[1] for f in _HISTORY_DETAIL},
    "tag_bytes": "frame bytes of each tag in the frame (max_tags)",
}, history_detail_dtype, "tag_bytes")


def history_capacity(frames: int) -> int:
    """Ring entries for ``frames`` frames of history: the next power of two (0 stays 0)."""
    return 0 if frames <= 0 else 1 << (frames - 1).bit_length()


def budget_rows(max_tags: int, max_threads: int) -> int:
    return TAG_BUDGET0 + max_tags + max_threads


def new_org_rows(workers: int, max_tags: int) -> np.ndarray:
    """The organisation blocks of one thread slot (one per worker), as ``(workers, words)`` int64
    words of an ORG_ROW array (``.base``)."""
    return words(np.zeros(workers, org_row_dtype(max_tags)))


class OrgTables:
    """The arrays behind one SmartAlloc's organisation state: ``hdr``, ``tags``, ``ctrs``,
    ``budgets`` and ``events`` are the int64 words of ORG_HEADER, TAG, TAG_COUNTERS, BUDGET and
    BUDGET_EVENT arrays (each one's ``.base``)."""

    def __init__(self, max_tags: int, max_threads: int, quantum: int):
        self.max_tags = max_tags
        nb = budget_rows(max_tags, max_threads)
        hdr = np.zeros((), ORG_HEADER_DTYPE)
        budgets = np.zeros(nb, BUDGET_DTYPE)
        self.hdr = words(hdr)
        self.tags = words(np.zeros(max_tags, TAG_DTYPE))
        self.ctrs = words(np.zeros((max_tags, KINDS), TAG_COUNTERS_DTYPE))
        self.budgets = words(budgets)
        self.events = words(np.zeros(EVENT_CAP, BUDGET_EVENT_DTYPE))
        budgets["soft"] = NO_LIMIT
        budgets["hard"] = NO_LIMIT
        budgets["soft_frame"] = -1
        hdr["ntags"] = 1
        hdr["maxtags"] = max_tags
        hdr["quantum"] = quantum
        hdr["tags"] = self.tags.ctypes.data
        hdr["ctrs"] = self.ctrs.ctypes.data
        hdr["budgets"] = self.budgets.ctypes.data
        hdr["events_addr"] = self.events.ctypes.data
        hdr["nbudgets"] = nb
        self.addr = self.hdr.ctypes.data
        self.mv = memoryview(self.hdr).cast("B").cast("q")   # fast reads from Python


# ---------------------------------------------------------------------------------------------
# Scratch pools

#: Scratch pools one SmartAlloc can hold (the table never moves: @njit code may hold its address).
MAX_SCRATCH_POOLS = 256

SCRATCH_POOL_DTYPE = _record("SCRATCH_POOL", """\
One scratch pool: a row of its SmartAlloc's scratch table (MAX_SCRATCH_POOLS rows, 128 bytes
each), read and written in place by the Python methods and the @njit kernels.""", (
    ("cursor", "offset of the next free byte"),
    ("limit", "capacity while the pool is open, -1 once closed (the bump's one check)"),
    ("base", "address of the buffer (4096-aligned)"),
    ("count", "allocations ever made"),
    ("cap", "capacity in bytes"),
    ("mi", "NRT meminfo of the buffer (one reference held by the row); 0: none"),
    ("peak", "highest cursor before the last reset (peak = max(peak, cursor))"),
    ("freed", "bytes released by resets (allocated = freed + cursor)"),
    ("count_reset", "count at the last reset"),
    ("resets", "resets"),
    ("state", "STATE_FREE, STATE_OPEN or STATE_CLOSED"),
    ("id", "the pool's id (sid)"),
    ("tags", "address of the pool's SCRATCH_TAGS row"),
    ("ntags", "words in that row (AllocConfig.max_tags)"),
), 16)
SCRATCH_ROW_WORDS = SCRATCH_POOL_DTYPE.itemsize // 8
SCRATCH_ROW_BYTES = SCRATCH_POOL_DTYPE.itemsize
(S_CURSOR, S_LIMIT, S_BASE, S_COUNT, S_CAP, S_MI, S_PEAK, S_FREED, S_COUNT_RESET, S_RESETS,
 S_STATE, S_ID, S_TAGS, S_NTAGS) = (_word(SCRATCH_POOL_DTYPE, n) for n in SCRATCH_POOL_DTYPE.names)
STATE_FREE, STATE_OPEN, STATE_CLOSED = 0, 1, 2


def scratch_tags_dtype(max_tags: int) -> np.dtype:
    """SCRATCH_TAGS for ``max_tags`` tags."""
    return np.dtype([("bytes", _I8, (max_tags,))])


LAYOUTS["SCRATCH_TAGS"] = Layout("SCRATCH_TAGS", scratch_tags_dtype(4), """\
Bytes each tag holds in one scratch pool (one row per pool, MAX_SCRATCH_POOLS rows); a reset
gives them back.""", {"bytes": "bytes allocated under each tag since the last reset (max_tags)"},
                                 scratch_tags_dtype, "bytes")

SCRATCH_REGISTRY_DTYPE = _record("SCRATCH_REGISTRY", """\
One row of the process-wide scratch registry (one per SmartAlloc with scratch pools): how @njit
code finds an allocator's scratch table from a pool id, checked against the owner.""", (
    ("owner", "id of the SmartAlloc (0: row free)"),
    ("table", "address of its scratch table (SCRATCH_POOL rows)"),
), 4)
#: Allocators with scratch pools at once, process-wide (registry rows).
REG_CAP = 1 << 14
REG_WORDS = SCRATCH_REGISTRY_DTYPE.itemsize // 8
R_OWNER, R_TABLE = _word(SCRATCH_REGISTRY_DTYPE, "owner"), _word(SCRATCH_REGISTRY_DTYPE, "table")
#: Pool id: ``(owner allocator id << SID_OWNER_SHIFT) | (registry row << SID_SLOT_SHIFT) | index``.
SID_SLOT_SHIFT = 8
SID_OWNER_SHIFT = 24
SID_INDEX_MASK = (1 << SID_SLOT_SHIFT) - 1
SID_SLOT_MASK = (1 << (SID_OWNER_SHIFT - SID_SLOT_SHIFT)) - 1
assert MAX_SCRATCH_POOLS <= SID_INDEX_MASK + 1 and REG_CAP <= SID_SLOT_MASK + 1, "id fields"

_registry_rec: np.ndarray | None = None
#: Guards changes of registry rows (the Python side; kernels only read them). Re-entrant: the
#: garbage collector can run a dead allocator's finalizer (which frees its row) on a thread that
#: holds it, inside any allocation made under it.
registry_lock = threading.RLock()


def scratch_registry() -> np.ndarray:
    """The process-wide registry ``[REG_CAP, REG_WORDS]`` int64 words (of SCRATCH_REGISTRY
    records), allocated once and never moved: compiled code finds it by address."""
    global _registry_rec
    if _registry_rec is None:
        with registry_lock:
            if _registry_rec is None:
                _registry_rec = np.zeros(REG_CAP, SCRATCH_REGISTRY_DTYPE)
    return words(_registry_rec)


# ---------------------------------------------------------------------------------------------
# Collections (headers in frame memory, before the collection's storage)

VEC_HEADER_DTYPE = _record("VEC_HEADER", """\
A FrameVec's header: the first bytes of its one frame allocation, then its elements.""",
                           (("len", "elements in use"),))
MAP_HEADER_DTYPE = _record("MAP_HEADER", """\
A FrameMap's header: the first bytes of its one frame allocation ``[header][slot states: uint8
per slot][keys][values]``.""", (("len", "keys in the map"), ("spare", "unused (keeps the slot "
                                                                      "states 16-byte aligned)")))
#: Bytes before a FrameVec's elements: one int64, the length.
VEC_HEADER = VEC_HEADER_DTYPE.itemsize
#: Bytes before a FrameMap's slot states: the length and one spare int64.
MAP_HEADER = MAP_HEADER_DTYPE.itemsize
#: Fibonacci-hashing multiplier (2**64 / golden ratio), shared by Python and njit.
HASH_MUL = 0x9E3779B97F4A7C15
#: Right shift folding the well-mixed high bits of the product into the slot bits.
HASH_FOLD = 29


def _round_up(n: int, a: int) -> int:
    return (n + a - 1) & -a


def vec_block(itemsize: int, natural: int) -> tuple[int, int]:
    """``(offset of the elements, alignment of the block)`` of a FrameVec's one allocation."""
    return _round_up(VEC_HEADER, natural), max(8, natural)


def map_slots(capacity: int) -> int:
    """Table size of a FrameMap: a power of two above ``1.5 * capacity`` (load <= 2/3), >= 2.

    Always more slots than keys, so a probe always ends at an empty slot.
    """
    need = capacity + capacity // 2 + 1
    return max(2, 1 << (need - 1).bit_length())


def map_block(capacity: int, ksize: int, vsize: int, valign: int) -> tuple[int, int, int, int, int]:
    """``(slots, keys offset, values offset, total bytes, block alignment)`` of a FrameMap.

    The block is ``[len, spare][slot states: slots x uint8][keys][values]``.
    """
    slots = map_slots(capacity)
    keys_off = _round_up(MAP_HEADER + slots, ksize)
    vals_off = _round_up(keys_off + slots * ksize, valign)
    return slots, keys_off, vals_off, vals_off + slots * vsize, max(8, ksize, valign)


# ---------------------------------------------------------------------------------------------
# Counters kept by the Python API (int64 words of one record: ``new_counters(DTYPE)``)

HEAP_COUNTERS_DTYPE = _record("HEAP_COUNTERS", "Counters of a HeapTracker (alloc.heap).", (
    ("current", "bytes of the tracked arrays alive now"),
    ("peak", "highest current"),
    ("allocated", "bytes ever tracked"),
    ("freed", "bytes of tracked arrays collected"),
    ("allocations", "arrays ever tracked"),
    ("frees", "tracked arrays collected"),
))
(HC_CURRENT, HC_PEAK, HC_ALLOCATED, HC_FREED, HC_ALLOCATIONS, HC_FREES) = (
    _word(HEAP_COUNTERS_DTYPE, n) for n in HEAP_COUNTERS_DTYPE.names)

STREAMING_COUNTERS_DTYPE = _record("STREAMING_COUNTERS", "Counters of a StreamingAllocator.", (
    ("used", "bytes reserved by the assets held now (never above the budget)"),
    ("peak", "highest used"),
    ("reserved_total", "bytes ever reserved"),
    ("evictions", "assets evicted"),
    ("evicted_bytes", "bytes of evicted assets"),
    ("released", "assets released"),
))
(SC_USED, SC_PEAK, SC_RESERVED_TOTAL, SC_EVICTIONS, SC_EVICTED_BYTES, SC_RELEASED) = (
    _word(STREAMING_COUNTERS_DTYPE, n) for n in STREAMING_COUNTERS_DTYPE.names)

HANDLE_SLOT_DTYPE = _record("HANDLE_SLOT", """\
One slot of a HandleHeap's table (grown by doubling; a handle is (gen << 32) | slot).""", (
    ("seg", "id of the segment holding the block (-1: none)"),
    ("off", "byte offset of the block in its segment"),
    ("nbytes", "bytes of the block"),
    ("pins", "pin count (pinned blocks never move)"),
    ("gen", "generation: odd while the slot is live"),
))

LEASE_DTYPE = _record("LEASE", """\
The lease cell of an object that compiled code may hold (framealloc._closing.Lease); its address
is part of what @njit code unboxes.""", (
    ("holders", "compiled calls holding the object now (changed with the GIL held)"),
    ("dropped", "1 once the owner let go (close() or garbage collection)"),
))
L_HOLDERS, L_DROPPED = _word(LEASE_DTYPE, "holders"), _word(LEASE_DTYPE, "dropped")
