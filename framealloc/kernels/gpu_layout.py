"""The layout of the GPU sub-allocators' state (numba-free): dtypes, indices, constructors.

See :mod:`framealloc.kernels.gpu_tlsf` for the kernels that mutate these arrays and what each
field means to them.
"""
from __future__ import annotations

import numpy as np

__all__ = ["NODE_DTYPE", "POOL_DTYPE", "RING_DTYPE", "CHUNK_DTYPE", "MAX_BLOCKS", "new_nodes",
           "new_pool", "new_totals", "new_ring", "new_chunks", "grow_chunks", "grow_nodes"]

#: Second-level subdivisions per power of two (16 buckets per octave).
SL_LOG2 = 4
SL_COUNT = 1 << SL_LOG2
#: Buckets: sizes below 16 have one bucket each, then 16 per octave up to 2**63.
N_BUCKETS = 1024
N_WORDS = N_BUCKETS // 64
#: Blocks one pool can hold (the device's maxMemoryAllocationCount is typically 4096 in all).
MAX_BLOCKS = 1024

# Node states.
UNUSED = 0      # in the spare stack (``next_free`` links it)
FREE = 1        # a free range, in its bucket's list
USED = 2        # a live allocation
PENDING = 3     # freed while the GPU may still use it: in the pending list until ``frame`` ends

# Results (negative ``node``).
NO_FIT = -1
NEED_NODES = -2
BAD_NODE = -3

# Indices of ``totals``.
T_LIVE = 0          # live pooled bytes, lifetime slot 0 (persistent); slot 1 (transient) is 1
T_COUNT = 2         # live pooled allocations
T_ALLOCATED = 3     # bytes ever allocated (pooled)
T_FREED = 4         # bytes ever freed (pooled)
T_PEAK = 5          # peak of T_LIVE + T_LIVE + 1
T_PENDING = 6       # bytes freed but waiting for the GPU
T_HEAP = 8          # live bytes of heap h at T_HEAP + h

NODE_DTYPE = np.dtype([
    ("offset", np.int64), ("size", np.int64), ("request", np.int64), ("frame", np.int64),
    ("block", np.int32), ("state", np.int32),
    ("prev_phys", np.int32), ("next_phys", np.int32),
    ("prev_free", np.int32), ("next_free", np.int32),
    ("tag", np.int32), ("pad", np.int32)])
"""One range of a TLSF pool: ``offset``/``size`` in its ``block`` (size rounded to the
granularity), the ``request``ed bytes (what the accounting counts), its ``state``, physical
neighbours in the block, free-list (or spare/pending-list) links, the allocator's ``tag`` (its
kind of allocation) and, while PENDING, the ``frame`` after which it may be reused."""

POOL_DTYPE = np.dtype([
    ("bitmap", np.uint64, (N_WORDS,)),      # bit b of word b//64: bucket b is non-empty
    ("top", np.uint64),                     # bit w: bitmap word w is non-zero
    ("heads", np.int32, (N_BUCKETS,)),      # first free node of each bucket (-1: none)
    ("spare", np.int32),                    # first UNUSED node (-1: none)
    ("spare_count", np.int32),
    ("pending", np.int32),                  # first PENDING node (-1: none)
    ("nblocks", np.int32),                  # block slots ever used (high-water mark)
    ("nempty", np.int64),                   # blocks holding no range
    ("keep_empty", np.int64),               # a free reports an emptied block only beyond this
    ("granularity", np.int64),              # every offset and size is a multiple of it
    ("lifetime", np.int64),                 # slot in totals: T_LIVE + lifetime
    ("heap", np.int64),                     # totals[T_HEAP + heap] counts this pool's bytes
    ("bsize", np.int64, (MAX_BLOCKS,)),     # size of block b (0: slot empty)
    ("bused", np.int64, (MAX_BLOCKS,)),     # bytes of live and pending ranges in block b
    ("bcount", np.int64, (MAX_BLOCKS,)),    # live and pending ranges in block b
    ("bfirst", np.int32, (MAX_BLOCKS,)),    # node at offset 0 of block b
])

RING_DTYPE = np.dtype([("chunk", np.int64), ("slot", np.int64), ("mask", np.int64)])
"""One frame ring (its intent and memory type) as a one-record array: the row of its chunk table
that allocations bump through (``chunk``, -1: none), the frame slot in use (``slot``, frame
number modulo frames in flight) and ``mask`` (alignment of the intent's default usage - 1; every
cursor of the ring stays a multiple of the alignment). Row ``i`` of the chunk table is the
Python ``Block`` ``ring.blocks[i]``."""

CHUNK_DTYPE = np.dtype([("cursor", np.int64), ("limit", np.int64), ("mask", np.int64),
                        ("slot", np.int64), ("peak", np.int64), ("last_used", np.int64)])
"""One frame chunk of a ring (a row of its chunk table): the bump ``cursor`` (offset of the next
free byte, a multiple of ``mask + 1``; for the current chunk it is the only cursor there is),
``limit`` (the chunk's size), ``mask`` (the ring's), the frame ``slot`` it belongs to
(:data:`NO_SLOT`: row unused), the highest cursor of its previous frames (``peak``; the peak
is ``max(peak, cursor)``) and the last frame that used it (``last_used``; chunks unused for
``GpuConfig.frame_chunk_trim_frames`` rounds are released). The first three fields are what
``frame_bump``/``frame_bump_batch`` read, so a one-row slice is the state a ``FrameCursor``
lends."""

#: A chunk row that holds no chunk.
NO_SLOT = -1
#: Word indices of the chunk fields the Python hot path reads through a memoryview.
C_CURSOR, C_LIMIT, C_MASK = 0, 1, 2
assert [CHUNK_DTYPE.fields[f][1] // 8 for f in ("cursor", "limit", "mask")] == \
    [C_CURSOR, C_LIMIT, C_MASK] and CHUNK_DTYPE.itemsize == 48, "hot chunk fields moved"


# -- construction (Python) ------------------------------------------------------------------------
def new_nodes(capacity: int) -> np.ndarray:
    """A node table of ``capacity`` rows, every row UNUSED (link them with :func:`new_pool`)."""
    nodes = np.zeros(capacity, NODE_DTYPE)
    nodes["next_free"] = np.arange(1, capacity + 1, dtype=np.int32)
    nodes["next_free"][-1] = -1
    nodes["prev_free"] = -1
    nodes["prev_phys"] = nodes["next_phys"] = -1
    return nodes


def new_pool(granularity: int, lifetime: int, heap: int, spare: int = 8,
             keep_empty: int = 0) -> np.ndarray:
    """A pool header whose spare stack is rows ``[0, spare)`` of a :func:`new_nodes` table."""
    hdr = np.zeros(1, POOL_DTYPE)
    hdr["keep_empty"] = keep_empty
    hdr["heads"] = -1
    hdr["bfirst"] = -1
    hdr["spare"] = 0
    hdr["spare_count"] = spare
    hdr["pending"] = -1
    hdr["granularity"] = granularity
    hdr["lifetime"] = lifetime
    hdr["heap"] = heap
    return hdr


def new_totals(heaps: int) -> np.ndarray:
    return np.zeros(T_HEAP + heaps, np.int64)


def new_ring(alignment: int) -> np.ndarray:
    """A ring header with no chunk, slot 0, cursors aligned to ``alignment`` (a power of two)."""
    ring = np.zeros(1, RING_DTYPE)
    ring["chunk"] = -1
    ring["mask"] = alignment - 1
    return ring


def new_chunks(capacity: int) -> np.ndarray:
    """A chunk table of ``capacity`` unused rows."""
    chunks = np.zeros(capacity, CHUNK_DTYPE)
    chunks["slot"] = NO_SLOT
    return chunks


def grow_chunks(chunks: np.ndarray) -> np.ndarray:
    """A chunk table twice as long, rows ``[0, len(chunks))`` copied."""
    out = new_chunks(2 * chunks.shape[0])
    out[:chunks.shape[0]] = chunks
    return out


def grow_nodes(nodes: np.ndarray, hdr: np.ndarray) -> np.ndarray:
    """A node table twice as long with the new rows pushed on ``hdr``'s spare stack."""
    n = nodes.shape[0]
    out = np.empty(2 * n, NODE_DTYPE)
    out[:n] = nodes
    fresh = new_nodes(n)
    fresh["next_free"][:-1] += n
    fresh["next_free"][-1] = hdr["spare"][0]
    out[n:] = fresh
    hdr["spare"] = n
    hdr["spare_count"] += n
    return out
