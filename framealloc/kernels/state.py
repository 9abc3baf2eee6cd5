"""Structured dtypes of allocator state, shared in place by the Python API and the njit kernels.

One :data:`ARENA_DTYPE` row per frame arena. A SmartAlloc owns a ``(max_threads, workers)`` block
of rows: one row of workers per Python thread slot, one column per numba worker thread, so
``prange`` bodies (indexed by ``numba.get_thread_id()``) and different Python threads never share a
cursor. Rows are 256 bytes and the block is 256-byte aligned: no two rows share a cache line, nor
an adjacent-line prefetch pair.

All fields are int64, so the kernels address them as ``row[FIELD]`` on an int64 view and Python
reads them through an int64 memoryview; the dtype's field names are the documentation and the
``stats()`` vocabulary.

Arena fields
------------
cursor            offset of the next free byte in the current chunk
limit             bytes usable in the current chunk while a frame is open; -1 while no frame is
                  open, so the one bounds check of the hot path also catches "outside a frame"
base              address of the current chunk's first byte (aligned to ``CHUNK_ALIGN``)
count             allocations made in the current frame
capacity          usable bytes of the current chunk
meminfo           NRT meminfo owning the current chunk (one reference held by this row); 0: none
used_before       bytes consumed in chunks retired during this frame
frame_open        1 between begin_frame and end_frame
frame_number      frames begun on this row
chunk_seq         increments each time the current chunk is replaced
peak_frame        highest position (used_before + cursor) reached in the current frame
peak              highest position reached in any frame
allocated_total   bytes consumed in finished frames and rolled-back stretches
count_total       allocations in finished frames
chunks_grown      chunks added because a frame outgrew its chunk
heap_fallbacks    allocations served from the heap by the "heap" policy
heap_fallback_bytes  bytes of those
cp_serial         checkpoints taken in the current frame
cp_depth          checkpoints live on this frame's checkpoint stack
last_frame_peak   peak position of the previous frame
rollbacks         rollbacks performed in total
policy            0 grow, 1 error, 2 heap (``AllocConfig.on_frame_exhausted``)
chunk_size        first chunk size for "grow"; the fixed chunk size for "error"/"heap"
owner             id of the Python thread arena using this row (0: slot free)
reserved_bytes    bytes of arena chunks held by this row (current chunk)
heap_list         NRT meminfo of the newest "heap" fallback of this frame (a list through each
                  fallback's first word), released at end_frame; 0: none
tag               id of the tag this row's allocations are attributed to (0: untagged)
seg_pos           position where the current tag segment began (bytes before it are attributed)
seg_count         ``count`` when the current tag segment began
budget_end        position up to which this row has leased budget bytes (``NO_LIMIT``: no budget
                  applies); the row's ``limit`` never passes it, so the hot path enforces budgets
orgrow            address of this row's organisation block (tag stack, segment log, bytes per tag)
org               address of the allocator's organisation header (:mod:`.org_state`)
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = ["ARENA_FIELDS", "ARENA_DTYPE", "ROW_WORDS", "ROW_BYTES", "CHUNK_ALIGN", "F",
           "CHECKPOINT_DTYPE", "new_arena_block", "new_checkpoint_block"]

ARENA_FIELDS = (
    "cursor", "limit", "base", "count", "capacity", "meminfo", "used_before", "frame_open",
    "frame_number", "chunk_seq", "peak_frame", "peak", "allocated_total", "count_total",
    "chunks_grown", "heap_fallbacks", "heap_fallback_bytes", "cp_serial", "cp_depth",
    "last_frame_peak", "rollbacks", "policy", "chunk_size", "owner", "reserved_bytes",
    "heap_list", "tag", "seg_pos", "seg_count", "budget_end", "orgrow", "org",
)

#: Words (int64) per arena row; 32 words = 256 bytes = four cache lines, the hot fields in the first.
ROW_WORDS = 32
ROW_BYTES = ROW_WORDS * 8
#: Chunk bases are aligned to a page so every alignment up to 4096 costs at most its padding.
CHUNK_ALIGN = 4096

ARENA_DTYPE = np.dtype({
    "names": list(ARENA_FIELDS),
    "formats": ["<i8"] * len(ARENA_FIELDS),
    "offsets": [8 * i for i in range(len(ARENA_FIELDS))],
    "itemsize": ROW_BYTES,
    "aligned": True,
})


#: Word index of each arena field (``row[F.cursor]``); an IntEnum so njit code folds it to a constant.
F = IntEnum("F", {name: i for i, name in enumerate(ARENA_FIELDS)})
assert len(ARENA_FIELDS) <= ROW_WORDS, "arena row overflows its padding"
assert F.cursor == 0 and F.limit == 1 and F.base == 2 and F.count == 3, "hot fields moved"

#: One checkpoint-stack entry: the serial of the checkpoint and the position it restores.
CHECKPOINT_DTYPE = np.dtype([("serial", "<i8"), ("position", "<i8")])


def _aligned_zeros(nbytes: int, align: int) -> np.ndarray:
    raw = np.zeros(nbytes + align, np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + nbytes]


def new_arena_block(slots: int, workers: int) -> np.ndarray:
    """A zeroed ``(slots, workers)`` block of arena rows, 256-byte aligned."""
    buf = _aligned_zeros(slots * workers * ROW_BYTES, ROW_BYTES)
    rows = buf.view(ARENA_DTYPE).reshape(slots, workers)
    rows["limit"] = -1
    return rows


def new_checkpoint_block(slots: int, workers: int, depth: int) -> np.ndarray:
    """The checkpoint stacks: ``depth`` entries per arena row."""
    return np.zeros((slots, workers, depth), CHECKPOINT_DTYPE)

