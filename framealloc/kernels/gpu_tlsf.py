"""GPU sub-allocation state and its @njit kernels: TLSF pools and frame-ring cursors.

The state of a :class:`framealloc.gpu.GpuAllocator`'s sub-allocators lives in structured NumPy
arrays that these kernels mutate; the Python side makes one kernel call per allocation, per free
or per batch, never a loop over lists. The kernels do offset arithmetic only: no Vulkan call, no
Python object, so a user's ``@njit`` code can call them too (see ``docs/gpu.md``).

* A **TLSF pool** (one per memory type and lifetime) sub-allocates every block of that pool:
  ``nodes`` (:data:`NODE_DTYPE`, one row per range, free or used) and ``hdr``
  (:data:`POOL_DTYPE`, one record: the segregated free lists, their bitmaps, the block table).
  Free ranges of all blocks sit in the same size-class buckets, so an allocation is one
  bitmap search whatever the number of blocks; physical neighbours (``prev_phys``/``next_phys``)
  never cross a block, so a free merges only within its block.
* ``totals`` (int64, :data:`T_*` indices) is the allocator's running accounting, updated by every
  kernel: live bytes per lifetime, live count, bytes allocated and freed, the pooled peak, bytes
  waiting for the GPU, and live bytes per heap (budgets read them).
* A **frame ring** (:data:`RING_DTYPE`, one record: the current chunk row, the frame slot, the
  alignment mask) and its **chunk table** (:data:`CHUNK_DTYPE`, one row per chunk of every frame
  slot: ``cursor``, ``limit``, ``mask``, ``slot``, ``peak``, ``last_used``). Each chunk's cursor
  exists once, in its row: the Python hot path bumps the current row through a memoryview,
  the ``ring_*`` kernels do everything else (frame start and trimming, the slow path, batches,
  usage). A one-row slice ``chunks[i:i + 1]`` is what :func:`frame_bump` and
  :func:`frame_bump_batch` bump (the state a ``FrameCursor`` lends to user code).

Kernel results: ranges are returned as ``(node, offset, block)``; a negative ``node`` is a status
(:data:`NO_FIT`: no free range of any block holds the request, the caller adds a block;
:data:`NEED_NODES`: the node table is full, the caller grows it). Nothing here raises.

>>> import numpy as np
>>> from framealloc.kernels import gpu_tlsf as K
>>> nodes, hdr, totals = K.new_nodes(8), K.new_pool(16, 0, 0), K.new_totals(1)
>>> K.tlsf_add_block(nodes, hdr, 0, 1 << 20)
0
>>> node, offset, block = K.tlsf_alloc(nodes, hdr, totals, 100, 256, 0)
>>> int(offset % 256), int(block), int(totals[K.T_LIVE])     # bytes requested are counted
(0, 0, 100)
>>> int(K.tlsf_free(nodes, hdr, totals, node, 0))     # block 0 is empty again
0
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from .gpu_layout import (BAD_NODE, CHUNK_DTYPE, FREE, MAX_BLOCKS, N_BUCKETS,  # noqa: F401
                         N_WORDS, NEED_NODES, NO_FIT, NO_SLOT, NODE_DTYPE, PENDING, POOL_DTYPE,
                         RING_DTYPE, SL_COUNT, SL_LOG2, T_ALLOCATED, T_COUNT, T_FREED, T_HEAP,
                         T_LIVE, T_PEAK, T_PENDING, UNUSED, USED, grow_chunks, grow_nodes,
                         new_chunks, new_nodes, new_pool, new_ring, new_totals)

__all__ = ["NODE_DTYPE", "POOL_DTYPE", "RING_DTYPE", "CHUNK_DTYPE", "MAX_BLOCKS", "new_nodes",
           "new_pool", "new_totals", "new_ring", "new_chunks", "grow_chunks", "grow_nodes",
           "tlsf_add_block", "tlsf_remove_block", "tlsf_alloc", "tlsf_free", "tlsf_alloc_batch",
           "tlsf_free_batch", "tlsf_release_pending", "frame_bump", "frame_bump_batch",
           "ring_begin", "ring_bump", "ring_add_chunk", "ring_bump_batch", "ring_used"]


# -- buckets --------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _bit_length(x):
    return 64 - leading_zeros(np.uint64(x))


@njit(cache=True, inline="always")
def _bucket(size):
    """Bucket of a free range of ``size`` bytes (monotone in ``size``)."""
    fl = _bit_length(size) - 1
    if fl < SL_LOG2:
        return size
    return (fl - SL_LOG2 + 1) * SL_COUNT + ((size >> (fl - SL_LOG2)) & (SL_COUNT - 1))


@njit(cache=True, inline="always")
def _bucket_floor(index):
    """Smallest size of bucket ``index``."""
    if index < SL_COUNT:
        return index
    fl = index // SL_COUNT + SL_LOG2 - 1
    return (np.int64(1) << fl) + ((index % SL_COUNT) << (fl - SL_LOG2))


@njit(cache=True, inline="always")
def _first_bucket(h, index):
    """First non-empty bucket >= ``index``, or -1."""
    if index >= N_BUCKETS:
        return -1
    w = index >> 6
    m = h.bitmap[w] & (np.uint64(0xFFFFFFFFFFFFFFFF) << np.uint64(index & 63))
    if m:
        return (w << 6) + np.int64(trailing_zeros(m))
    if w + 1 >= N_WORDS:
        return -1
    t = h.top & (np.uint64(0xFFFFFFFFFFFFFFFF) << np.uint64(w + 1))
    if not t:
        return -1
    w = np.int64(trailing_zeros(t))
    return (w << 6) + np.int64(trailing_zeros(h.bitmap[w]))


@njit(cache=True, inline="always")
def _push_free(nodes, h, i):
    nodes[i].state = FREE
    b = _bucket(nodes[i].size)
    head = h.heads[b]
    nodes[i].prev_free = -1
    nodes[i].next_free = head
    if head >= 0:
        nodes[head].prev_free = i
    h.heads[b] = i
    w = b >> 6
    h.bitmap[w] |= np.uint64(1) << np.uint64(b & 63)
    h.top |= np.uint64(1) << np.uint64(w)


@njit(cache=True, inline="always")
def _unlink_free(nodes, h, i):
    b = _bucket(nodes[i].size)
    p = nodes[i].prev_free
    n = nodes[i].next_free
    if p >= 0:
        nodes[p].next_free = n
    else:
        h.heads[b] = n
        if n < 0:
            w = b >> 6
            h.bitmap[w] &= ~(np.uint64(1) << np.uint64(b & 63))
            if not h.bitmap[w]:
                h.top &= ~(np.uint64(1) << np.uint64(w))
    if n >= 0:
        nodes[n].prev_free = p


@njit(cache=True, inline="always")
def _take_spare(nodes, h):
    i = h.spare
    h.spare = nodes[i].next_free
    h.spare_count -= 1
    return i


@njit(cache=True, inline="always")
def _give_spare(nodes, h, i):
    nodes[i].state = UNUSED
    nodes[i].next_free = h.spare
    nodes[i].prev_phys = -1
    nodes[i].next_phys = -1
    h.spare = i
    h.spare_count += 1


# -- blocks ----------------------------------------------------------------------------
@njit(cache=True)
def tlsf_add_block(nodes, hdr, block, size):
    """Make block slot ``block`` (``size`` bytes) one free range; its node, or NEED_NODES."""
    h = hdr[0]
    if h.spare_count < 1:
        return NEED_NODES
    size -= size % h.granularity
    i = _take_spare(nodes, h)
    nodes[i].offset = 0
    nodes[i].size = size
    nodes[i].block = block
    nodes[i].prev_phys = -1
    nodes[i].next_phys = -1
    nodes[i].tag = -1
    _push_free(nodes, h, i)
    h.bsize[block] = size
    h.bused[block] = 0
    h.bcount[block] = 0
    h.bfirst[block] = i
    h.nempty += 1
    if block >= h.nblocks:
        h.nblocks = block + 1
    return i


@njit(cache=True)
def tlsf_remove_block(nodes, hdr, block):
    """Forget an empty block (its single free range); 0, or BAD_NODE when it is not empty."""
    h = hdr[0]
    if h.bsize[block] == 0 or h.bcount[block] != 0:
        return BAD_NODE
    i = h.bfirst[block]
    _unlink_free(nodes, h, i)
    _give_spare(nodes, h, i)
    h.bsize[block] = 0
    h.bfirst[block] = -1
    h.nempty -= 1
    return 0


# -- allocate / free -------------------------------------------------------------------
@njit(cache=True, inline="always")
def _find(nodes, h, size, align):
    """A free node that holds ``size`` bytes at ``align``, or -1 (exhaustive when needed)."""
    g = h.granularity
    need = size + align - g
    idx = _bucket(need)
    if _bucket_floor(idx) != need:
        idx += 1
    b = _first_bucket(h, idx)
    if b >= 0:
        return h.heads[b]
    # Slow path: a range of a smaller bucket may still fit once its padding is known.
    b = _first_bucket(h, _bucket(size))
    while b >= 0:
        i = h.heads[b]
        while i >= 0:
            off = nodes[i].offset
            if ((off + align - 1) & -align) + size <= off + nodes[i].size:
                return i
            i = nodes[i].next_free
        b = _first_bucket(h, b + 1)
    return -1


@njit(cache=True, inline="always")
def _alloc_one(nodes, h, totals, size, align, tag):
    g = h.granularity
    req = size
    size = (size + g - 1) & -g
    if align < g:
        align = g
    if h.spare_count < 2:
        return NEED_NODES, 0, 0
    i = _find(nodes, h, size, align)
    if i < 0:
        return NO_FIT, 0, 0
    _unlink_free(nodes, h, i)
    start = nodes[i].offset
    end = start + nodes[i].size
    off = (start + align - 1) & -align
    blk = nodes[i].block
    if off > start:                                   # leading padding: a free range before
        j = _take_spare(nodes, h)
        nodes[j].offset = start
        nodes[j].size = off - start
        nodes[j].block = blk
        nodes[j].tag = -1
        p = nodes[i].prev_phys
        nodes[j].prev_phys = p
        nodes[j].next_phys = i
        if p >= 0:
            nodes[p].next_phys = j
        else:
            h.bfirst[blk] = j
        nodes[i].prev_phys = j
        _push_free(nodes, h, j)
    if off + size < end:                              # tail: a free range after
        j = _take_spare(nodes, h)
        nodes[j].offset = off + size
        nodes[j].size = end - off - size
        nodes[j].block = blk
        nodes[j].tag = -1
        n = nodes[i].next_phys
        nodes[j].next_phys = n
        nodes[j].prev_phys = i
        if n >= 0:
            nodes[n].prev_phys = j
        nodes[i].next_phys = j
        _push_free(nodes, h, j)
    nodes[i].offset = off
    nodes[i].size = size
    nodes[i].request = req
    nodes[i].state = USED
    nodes[i].tag = tag
    nodes[i].frame = -1
    h.bused[blk] += size
    if h.bcount[blk] == 0:
        h.nempty -= 1
    h.bcount[blk] += 1
    totals[T_LIVE + h.lifetime] += req
    totals[T_COUNT] += 1
    totals[T_ALLOCATED] += req
    totals[T_HEAP + h.heap] += req
    live = totals[T_LIVE] + totals[T_LIVE + 1]
    if live > totals[T_PEAK]:
        totals[T_PEAK] = live
    return i, off, blk


@njit(cache=True)
def tlsf_alloc(nodes, hdr, totals, size, align, tag):
    """``(node, offset, block)`` of a new range of ``size`` bytes aligned to ``align`` (a power
    of two; sizes round up to the granularity), or ``(NO_FIT | NEED_NODES, 0, 0)``.

    NO_FIT only when no free range of any block can hold the aligned request.
    """
    return _alloc_one(nodes, hdr[0], totals, size, align, tag)


@njit(cache=True, inline="always")
def _release(nodes, h, i):
    """Merge node ``i`` (USED or PENDING) with its free neighbours; returns its block if that
    became empty and the pool now has more than ``keep_empty`` empty blocks, else -1."""
    size = nodes[i].size
    blk = nodes[i].block
    h.bused[blk] -= size
    h.bcount[blk] -= 1
    n = nodes[i].next_phys
    if n >= 0 and nodes[n].state == FREE:
        _unlink_free(nodes, h, n)
        nodes[i].size += nodes[n].size
        nn = nodes[n].next_phys
        nodes[i].next_phys = nn
        if nn >= 0:
            nodes[nn].prev_phys = i
        _give_spare(nodes, h, n)
    p = nodes[i].prev_phys
    if p >= 0 and nodes[p].state == FREE:
        _unlink_free(nodes, h, p)
        nodes[p].size += nodes[i].size
        n = nodes[i].next_phys
        nodes[p].next_phys = n
        if n >= 0:
            nodes[n].prev_phys = p
        _give_spare(nodes, h, i)
        i = p
    nodes[i].tag = -1
    _push_free(nodes, h, i)
    if h.bcount[blk] == 0:
        h.nempty += 1
        if h.nempty > h.keep_empty:
            return blk
    return -1


@njit(cache=True, inline="always")
def _free_one(nodes, h, totals, i, frame):
    if i < 0 or i >= nodes.shape[0] or nodes[i].state != USED:
        return BAD_NODE
    size = nodes[i].request
    totals[T_LIVE + h.lifetime] -= size
    totals[T_COUNT] -= 1
    totals[T_FREED] += size
    totals[T_HEAP + h.heap] -= size
    if frame > 0:                 # the GPU may still read it: reuse after frame ``frame`` ends
        nodes[i].state = PENDING
        nodes[i].frame = frame
        nodes[i].next_free = h.pending
        h.pending = i
        totals[T_PENDING] += size
        return -1
    return _release(nodes, h, i)


@njit(cache=True)
def tlsf_free(nodes, hdr, totals, node, frame):
    """Free ``node``: now (``frame`` 0; returns its block when that became empty and more than
    ``keep_empty`` blocks are empty, so the caller should give one back; else -1), or
    once frame ``frame`` has been finished by the GPU (``frame`` > 0; see
    :func:`tlsf_release_pending`). BAD_NODE when ``node`` is not a live range."""
    return _free_one(nodes, hdr[0], totals, node, frame)


@njit(cache=True)
def tlsf_release_pending(nodes, hdr, totals, upto):
    """Reclaim the pending ranges of frames ``<= upto``; the number of blocks that became empty
    beyond ``keep_empty``."""
    h = hdr[0]
    prev = -1
    i = h.pending
    emptied = 0
    while i >= 0:
        nxt = nodes[i].next_free
        if nodes[i].frame <= upto:
            if prev >= 0:
                nodes[prev].next_free = nxt
            else:
                h.pending = nxt
            totals[T_PENDING] -= nodes[i].request
            if _release(nodes, h, i) >= 0:
                emptied += 1
        else:
            prev = i
        i = nxt
    return emptied


@njit(cache=True)
def tlsf_alloc_batch(nodes, hdr, totals, sizes, align, tag, out_node, out_offset, out_block,
                     start):
    """Allocate ``sizes[start:]`` into ``out_*[start:]``; returns the index of the first range
    not placed (``len(sizes)`` when all were) and the status that stopped it (0, NO_FIT or
    NEED_NODES)."""
    h = hdr[0]
    k = start
    while k < sizes.shape[0]:
        s = sizes[k]
        if s <= 0:
            return k, BAD_NODE
        i, off, blk = _alloc_one(nodes, h, totals, s, align, tag)
        if i < 0:
            return k, i
        out_node[k] = i
        out_offset[k] = off
        out_block[k] = blk
        k += 1
    return k, 0


@njit(cache=True)
def tlsf_free_batch(nodes, hdr, totals, which, frame):
    """Free every node of ``which`` (see :func:`tlsf_free`); the number of blocks emptied, or
    BAD_NODE before freeing anything when one of them is not live (or repeated)."""
    h = hdr[0]
    for k in range(which.shape[0]):
        i = which[k]
        if i < 0 or i >= nodes.shape[0] or nodes[i].state != USED:
            for j in range(k):
                nodes[which[j]].state = USED
            return BAD_NODE
        nodes[i].state = -USED             # mark: a repeat in ``which`` is caught
    for k in range(which.shape[0]):
        nodes[which[k]].state = USED
    emptied = 0
    for k in range(which.shape[0]):
        if _free_one(nodes, h, totals, which[k], frame) >= 0:
            emptied += 1
    return emptied


# -- frame rings -----------------------------------------------------------------------
@njit(cache=True, inline="always")
def frame_bump(ring, size):
    """Offset of ``size`` bytes bumped from a frame chunk (a one-row :data:`CHUNK_DTYPE` array,
    or any record with ``cursor``, ``limit``, ``mask``), or -1 when it is full."""
    r = ring[0]
    off = r.cursor
    end = off + size
    if size <= 0 or end > r.limit:
        return -1
    r.cursor = (end + r.mask) & ~r.mask
    return off


@njit(cache=True)
def frame_bump_batch(ring, sizes, out_offset, start):
    """Bump ``sizes[start:]`` into ``out_offset[start:]``; the index of the first range that did
    not fit in the ring's chunk (``len(sizes)`` when all did), or ``-1 - k`` with nothing bumped
    when ``sizes[k]`` (k >= start) is not positive."""
    n = sizes.shape[0]
    for k in range(start, n):
        if sizes[k] <= 0:
            return -1 - k
    r = ring[0]
    cur = r.cursor
    lim = r.limit
    mask = r.mask
    k = start
    while k < n:
        s = sizes[k]
        end = cur + s
        if s <= 0 or end > lim:
            break
        out_offset[k] = cur
        cur = (end + mask) & ~mask
        k += 1
    r.cursor = cur
    return k


@njit(cache=True)
def ring_begin(ring, chunks, slot, frame, keep_after):
    """Start frame ``frame`` in ``slot`` (whose GPU work is finished): every chunk of the slot
    that was bumped gets ``last_used = frame``, its cursor folded into ``peak`` and rewound; a
    chunk last used before ``keep_after`` leaves the table (its row's slot becomes NO_SLOT; the
    caller releases its block). The first chunk kept becomes current. Returns the number of
    chunks released."""
    r = ring[0]
    first = -1
    dropped = 0
    for i in range(chunks.shape[0]):
        c = chunks[i]
        if c.slot != slot:
            continue
        if c.cursor != 0:
            c.last_used = frame
            if c.cursor > c.peak:
                c.peak = c.cursor
            c.cursor = 0
        if c.last_used < keep_after:
            c.slot = NO_SLOT
            dropped += 1
        elif first < 0:
            first = i
    r.slot = slot
    r.chunk = first
    return dropped


@njit(cache=True, inline="always")
def _bump_row(c, size, align, mask):
    off = (c.cursor + align - 1) & -align
    end = off + size
    if end > c.limit:
        return -1
    c.cursor = (end + mask) & ~mask
    return off


@njit(cache=True)
def ring_bump(ring, chunks, size, align, frame):
    """The slow path of one frame range of ``size`` bytes aligned to ``align``: the current chunk
    if it has room, else the first chunk of the slot that has (it becomes current, used in
    ``frame``). The offset (in the chunk ``ring[0].chunk``), or -1 when no chunk of the slot
    has room (the caller adds one with :func:`ring_add_chunk`)."""
    r = ring[0]
    mask = r.mask
    if r.chunk >= 0:
        off = _bump_row(chunks[r.chunk], size, align, mask)
        if off >= 0:
            return off
    for i in range(chunks.shape[0]):
        c = chunks[i]
        if c.slot == r.slot:
            off = _bump_row(c, size, align, mask)
            if off >= 0:
                c.last_used = frame
                r.chunk = i
                return off
    return -1


@njit(cache=True)
def ring_add_chunk(ring, chunks, limit, first, frame):
    """A new chunk of ``limit`` bytes in the first unused row, in the ring's slot, made current
    with ``first`` bytes allocated at offset 0. The row, or -1 when the table is full (the
    caller grows it with ``grow_chunks`` and calls again)."""
    r = ring[0]
    mask = r.mask
    for i in range(chunks.shape[0]):
        c = chunks[i]
        if c.slot == NO_SLOT:
            c.cursor = (first + mask) & ~mask
            c.limit = limit
            c.mask = mask
            c.slot = r.slot
            c.peak = 0
            c.last_used = frame
            r.chunk = i
            return i
    return -1


@njit(cache=True)
def ring_bump_batch(ring, chunks, sizes, out_offset, out_chunk, start, frame):
    """Bump ``sizes[start:]`` through the chunks of the ring's slot: the current chunk, then, when
    a range does not fit, the first chunk of the slot with room for it (which becomes current,
    used in ``frame``). Range ``k`` is at ``out_offset[k]`` in row ``out_chunk[k]``. Returns the
    index of the first range no chunk had room for (``len(sizes)`` when all fit; the caller
    adds a chunk and calls again), or ``-1 - k`` with nothing bumped when ``sizes[k]``
    (k >= start) is not positive."""
    n = sizes.shape[0]
    for k in range(start, n):
        if sizes[k] <= 0:
            return -1 - k
    r = ring[0]
    i = r.chunk
    if i < 0:
        return start
    mask = r.mask
    c = chunks[i]
    cur = c.cursor
    lim = c.limit
    k = start
    while k < n:
        s = sizes[k]
        end = cur + s
        if end > lim:
            c.cursor = cur
            j = -1
            for t in range(chunks.shape[0]):
                if chunks[t].slot == r.slot and chunks[t].cursor + s <= chunks[t].limit:
                    j = t
                    break
            if j < 0:
                return k
            i = j
            r.chunk = j
            c = chunks[j]
            c.last_used = frame
            cur = c.cursor
            lim = c.limit
            continue
        out_offset[k] = cur
        out_chunk[k] = i
        cur = (end + mask) & ~mask
        k += 1
    c.cursor = cur
    return k


@njit(cache=True)
def ring_used(chunks, slot):
    """Bytes bumped (padding included) in the chunks of ``slot``."""
    total = 0
    for i in range(chunks.shape[0]):
        if chunks[i].slot == slot:
            total += chunks[i].cursor
    return total
