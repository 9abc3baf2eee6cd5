"""Frame-arena kernels: the cold paths of allocation and the frame/checkpoint state machine.

Every kernel works on raw addresses of :data:`~framealloc.kernels.layout.ARENA_DTYPE` rows, so one
compiled specialisation serves every allocator and is called the same way from Python (the
SmartAlloc passes its state addresses) and from user @njit code (the SmartAlloc's native struct
holds the same addresses). The hot path, a bounds-checked bump that builds the view, is not here:
it is a single intrinsic in :mod:`framealloc.kernels.njit_api` that branches to
:func:`slow_alloc` only when the bump does not fit.

Kernels return statuses (:mod:`.status`: a failure's status is its FA code's number) instead of
raising; the caller turns a status into the exception of that code, so a failed call never leaves
a half-done change behind.
"""
from __future__ import annotations

from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic, register_jitable

from ..checkpoints import SCOPE_BIT as _SCOPE_BIT
from . import org as O
from ._intrinsics import as_i64_ptr, atomic_add, cycles, hot_call, ld, st
from .layout import (
    CHUNK_ALIGN,
    DEBUG_SITES,
    DS_BYTES,
    DS_COUNT,
    DS_FRAME,
    DS_NAME,
    DS_WORDS,
    F,
    H_DEBUG_SITES,
    H_ACTIVE,
    H_MAXTAGS,
    HD_FALLBACKS,
    HD_FRAME,
    HD_HDR,
    HD_OTHER_COUNT,
    HD_TICKS,
    HD_TP_ALIVE,
    HD_TP_BYTES,
    HD_TP_COUNT,
    HI_ALLOCATIONS,
    HI_BYTES,
    HI_OTHER_BYTES,
    HI_PEAK,
    HIST_WORDS,
    NO_LIMIT,
    RB_CLOSED,
    RB_HIST_DETAIL,
    RB_HIST_MASK,
    RB_HISTORY,
    RB_JOINED,
    RB_NLEASE,
    RB_OTHER_BYTES,
    RB_OTHER_COUNT,
    RB_SLOT,
    RB_TP_BYTES,
    RB_TP_COUNT,
    RB_TP_FREED,
    ROW_BYTES,
    ROW_WORDS,
)

from . import status as ST

POLICY_GROW = 0
POLICY_ERROR = 1
POLICY_HEAP = 2

#: Largest single request, in bytes (128 TiB): anything bigger is a size error, not a policy matter.
MAX_BYTES = 1 << 47


_as_i64_ptr = as_i64_ptr


@intrinsic
def nrt_alloc_aligned(typingctx, nbytes):
    """Allocate ``nbytes`` page-aligned through NRT. Returns (meminfo, data) addresses; (0, 0) on OOM."""
    sig = types.UniTuple(types.intp, 2)(types.intp)

    def codegen(context, builder, signature, args):
        mi = context.nrt.meminfo_alloc_aligned_unchecked(builder, args[0], CHUNK_ALIGN)
        intp = context.get_value_type(types.intp)
        mi_addr = builder.ptrtoint(mi, intp)
        data_addr = cgutils.alloca_once_value(builder, ir.Constant(intp, 0))
        with builder.if_then(cgutils.is_not_null(builder, mi)):
            builder.store(builder.ptrtoint(context.nrt.meminfo_data(builder, mi), intp), data_addr)
        return context.make_tuple(builder, signature.return_type, [mi_addr, builder.load(data_addr)])

    return sig, codegen


@intrinsic
def nrt_release(typingctx, meminfo):
    """Drop one reference to the NRT meminfo at address ``meminfo`` (no-op for 0)."""
    sig = types.void(types.intp)

    def codegen(context, builder, signature, args):
        ptr = builder.inttoptr(args[0], cgutils.voidptr_t)
        context.nrt.decref(builder, types.MemInfoPointer(types.voidptr), ptr)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def nrt_data(typingctx, meminfo):
    """Data address of the NRT meminfo at address ``meminfo``."""
    sig = types.intp(types.intp)

    def codegen(context, builder, signature, args):
        ptr = builder.inttoptr(args[0], cgutils.voidptr_t)
        return builder.ptrtoint(context.nrt.meminfo_data(builder, ptr), cgutils.intp_t)

    return sig, codegen


@njit(cache=True)
def _heap_fallback(r, nbytes, align):
    """Serve a request from its own NRT allocation ("heap" policy), owned by the row until
    end_frame (views take their own references, so they outlive it as any frame view does).

    The row's fallbacks form a list through the first word of each allocation (the data starts
    ``max(8, align)`` bytes in), so end_frame releases them all without any other storage.
    """
    head = max(8, align)
    mi, base = nrt_alloc_aligned(nbytes + head)
    if mi == 0:
        return ST.FRAME_EXHAUSTED, 0, 0
    carray(_as_i64_ptr(base), (1,))[0] = r[F.heap_list]
    r[F.heap_list] = mi
    r[F.heap_fallbacks] += 1
    r[F.heap_fallback_bytes] += nbytes
    r[F.count] += 1
    O.fallback_bytes(r.ctypes.data, nbytes)
    return ST.HEAP, base + head, mi


@njit(cache=True)
def release_heap_list(r):
    """Drop the row's references to this frame's heap fallbacks."""
    mi = r[F.heap_list]
    while mi != 0:
        nxt = carray(_as_i64_ptr(nrt_data(mi)), (1,))[0]
        nrt_release(mi)
        mi = nxt
    r[F.heap_list] = 0


@njit(cache=True)
def row_view(addr):
    """The int64 words of the arena row at ``addr``."""
    return carray(_as_i64_ptr(addr), (ROW_WORDS,))


@njit(cache=True)
def _round_up(n, a):
    return (n + a - 1) & -a


@njit(cache=True)
def _install_chunk(r, size):
    """Replace the row's chunk with a new one of ``size`` bytes. False when memory is exhausted."""
    mi, data = nrt_alloc_aligned(size)
    if mi == 0:
        return False
    if r[F.meminfo] != 0:
        nrt_release(r[F.meminfo])
    r[F.meminfo] = mi
    r[F.base] = data
    r[F.capacity] = size
    r[F.reserved_bytes] = size
    r[F.cursor] = 0
    r[F.chunk_seq] += 1
    O.set_limit(r.ctypes.data)  # callers that move used_before set it again
    return True


@njit(cache=True)
def _bump(r, nbytes, align):
    """Try the bump in the current chunk; the data address, or 0 when it does not fit."""
    if r[F.meminfo] == 0:
        return 0
    off = _round_up(r[F.cursor], align)  # chunk bases are CHUNK_ALIGN-aligned
    end = off + nbytes
    if end > r[F.capacity]:
        return 0
    r[F.cursor] = end
    r[F.count] += 1
    return r[F.base] + off


@njit(cache=True)
def slow_alloc(addr, nbytes, align, size_status):
    """Cold path of every frame allocation: diagnose, then grow, fall back or refuse.

    Returns ``(status, data address, meminfo address)``. On ``ST.OK`` the meminfo is the chunk's
    (the caller takes its own reference); on ``ST.HEAP`` the caller owns the returned meminfo.
    On any other status the row is unchanged.
    """
    if size_status != ST.OK:
        return size_status, 0, 0
    if nbytes < 0:
        return ST.BAD_SIZE, 0, 0
    if nbytes > MAX_BYTES:
        return ST.SIZE_OVERFLOW, 0, 0
    if align <= 0 or (align & (align - 1)) != 0 or align > CHUNK_ALIGN:
        return ST.BAD_ALIGN, 0, 0
    r = row_view(addr)
    if r[F.frame_open] == 0:
        return ST.NO_FRAME, 0, 0
    be = r[F.budget_end]
    if be != O.NO_LIMIT:
        # A budget applies: lease up to where this allocation ends (at most its alignment
        # padding more when it needs a new chunk), or refuse it with the row unchanged.
        if O.lease(addr, r[F.used_before] + _round_up(r[F.cursor], align) + nbytes,
                   nbytes) != ST.OK:
            return ST.BUDGET_EXCEEDED, 0, 0
        O.set_limit(addr)
    st, data, mi = _serve(r, nbytes, align)
    if st != ST.OK and st != ST.HEAP:
        O.count_oom(addr)
        if be != O.NO_LIMIT:
            O.unlease(addr, be)  # refused for want of memory: the lease taken for it goes back
    return st, data, mi


@njit(cache=True)
def _serve(r, nbytes, align):
    """Bump, grow or fall back, by policy (budgets already leased)."""
    data = _bump(r, nbytes, align)
    if data != 0:
        return ST.OK, data, r[F.meminfo]
    policy = r[F.policy]
    if r[F.meminfo] == 0:
        size = r[F.chunk_size]
        if policy == POLICY_GROW:
            size = max(size, _round_up(nbytes, CHUNK_ALIGN))
        elif nbytes > size:
            if policy == POLICY_ERROR:
                return ST.FRAME_EXHAUSTED, 0, 0
            return _heap_fallback(r, nbytes, align)   # no chunk could serve it: none installed
        if not _install_chunk(r, size):
            return ST.FRAME_EXHAUSTED, 0, 0
    elif policy == POLICY_GROW:
        size = max(2 * r[F.capacity], _round_up(nbytes, CHUNK_ALIGN))
        cursor = r[F.cursor]
        if not _install_chunk(r, size):
            return ST.FRAME_EXHAUSTED, 0, 0
        r[F.used_before] += cursor
        r[F.chunks_grown] += 1
        O.set_limit(r.ctypes.data)
    data = _bump(r, nbytes, align)
    if data != 0:
        return ST.OK, data, r[F.meminfo]
    if policy == POLICY_HEAP:
        return _heap_fallback(r, nbytes, align)
    return ST.FRAME_EXHAUSTED, 0, 0


@register_jitable
def _start_frame(r, number):
    """The fields of row ``r`` that open frame ``number`` empty (the tag segment aside)."""
    r[F.frame_open] = 1
    r[F.frame_number] = number
    r[F.cursor] = 0
    r[F.used_before] = 0
    r[F.count] = 0
    r[F.peak_frame] = 0
    r[F.cp_serial] = 0
    r[F.cp_depth] = 0


@njit(cache=True)
def _open_row(addr, number):
    """Open frame ``number`` on the row at ``addr``: an empty frame, its tag segment begun."""
    _start_frame(row_view(addr), number)
    O.seg_open(addr)  # sets the limit


@njit(cache=True)
def begin_frame(addr, workers):
    """Open a frame on the thread slot whose first row is at ``addr``.

    Only that row opens: the slot's other rows (one per numba worker, used inside ``prange``)
    join the frame when they first allocate in it (:func:`join_frame`), so a frame costs the
    same whatever the number of workers."""
    r = row_view(addr)
    if r[F.frame_open] != 0:
        return ST.BEGIN_TWICE
    _open_row(addr, r[F.frame_number] + 1)
    return ST.OK


@njit(cache=True)
def join_frame(addr, first):
    """A worker row (``addr``) of a thread slot joins the frame open on the slot's first row
    (``first``), on its first use in that frame; counted in the first row's organisation
    block (``joined``) so that :func:`end_frame` closes it. Safe when several workers join at
    once: each opens only its own row. Nothing happens when the row is open already, or when no
    frame is open (the caller then reports NO_FRAME)."""
    if addr == first or row_view(addr)[F.frame_open] != 0:
        return
    r0 = row_view(first)
    if r0[F.frame_open] == 0:
        return
    _open_row(addr, r0[F.frame_number])
    atomic_add(r0[F.orgrow] + 8 * RB_JOINED, 1)


@njit(cache=True)
def _settle_peak(r):
    pos = r[F.used_before] + r[F.cursor]
    if pos > r[F.peak_frame]:
        r[F.peak_frame] = pos
    if pos > r[F.peak]:
        r[F.peak] = pos
    return pos


# The common case, inlined into the caller (begin_frame/end_frame in @njit code): no budgets on,
# nothing tagged in this frame, no heap fallback, no worker row joined, no growth due. Each
# does exactly what the cached kernel would do then, as a few loads and stores; anything else
# returns False and the caller calls the kernel.

@register_jitable
def _history_entry(h, rb, frame, nbytes, count, peak):
    """Write frame ``frame``'s HISTORY entry in the ring at ``h`` (four stores)."""
    e = h + (frame & ld(rb + 8 * RB_HIST_MASK)) * (8 * HIST_WORDS)
    st(e + 8 * HI_BYTES, nbytes)
    st(e + 8 * HI_ALLOCATIONS, count)
    st(e + 8 * HI_PEAK, peak)
    st(e + 8 * HI_OTHER_BYTES, ld(rb + 8 * RB_OTHER_BYTES))


@njit(cache=True)
def begin_fast(addr):
    """:func:`begin_frame` without budgets: True when done, False to call the kernel."""
    r = row_view(addr)
    if r[F.frame_open] != 0 or ld(r[F.org] + 8 * H_ACTIVE) != 0:
        return False
    _start_frame(r, r[F.frame_number] + 1)
    # org.seg_open with no budget in scope: the segment starts at 0, no lease.
    r[F.seg_pos] = 0
    r[F.seg_count] = 0
    st(r[F.orgrow] + 8 * RB_NLEASE, 0)
    r[F.budget_end] = NO_LIMIT
    r[F.limit] = r[F.capacity] if r[F.meminfo] != 0 else -1
    return True


@njit(cache=True)
def end_fast(addr):
    """:func:`end_frame` in the common case: True when done, False to call the kernel.

    Compiled once (cached); @njit callers get it inlined by LLVM (``call_cached`` marks the call
    ``alwaysinline``), never through numba's IR inlining, which crashed a parallel=True caller
    (notebooks/02_performance.ipynb's prange_frames)."""
    r = row_view(addr)
    if r[F.frame_open] == 0 or r[F.tag] != 0 or r[F.heap_list] != 0 \
            or r[F.budget_end] != NO_LIMIT or ld(r[F.org] + 8 * H_ACTIVE) != 0:
        return False
    rb = r[F.orgrow]
    if ld(rb + 8 * RB_JOINED) != 0 or ld(rb + 8 * RB_CLOSED) != 0:
        return False
    cursor = r[F.cursor]
    pos = r[F.used_before] + cursor
    peak_frame = max(r[F.peak_frame], pos)
    if r[F.policy] == POLICY_GROW and r[F.capacity] < peak_frame:
        return False
    h = ld(rb + 8 * RB_HISTORY)
    if h != 0:
        _history_entry(h, rb, r[F.frame_number], pos, r[F.count], peak_frame)
    # org.settle_frame: the open segment is the root tag's, nothing to give back.
    r[F.seg_pos] = pos
    r[F.seg_count] = r[F.count]
    r[F.peak_frame] = peak_frame
    if pos > r[F.peak]:
        r[F.peak] = pos
    r[F.allocated_total] += pos
    r[F.count_total] += r[F.count]
    r[F.last_frame_peak] = peak_frame
    r[F.frame_open] = 0
    r[F.limit] = -1
    r[F.cursor] = 0
    r[F.used_before] = 0
    r[F.count] = 0
    return True


@njit(cache=True)
def _close_row(addr, tag_hist):
    """Close the frame of one row: O(1) resets, whatever was allocated; each tag's frame bytes
    are added to the words at ``tag_hist`` (0: not recorded).

    With the "grow" policy, a row whose frame outgrew its chunk gets one chunk large enough for
    the frame's peak, so the next identical frame needs no growth."""
    r = row_view(addr)
    O.settle_frame(addr, tag_hist)
    pos = _settle_peak(r)
    r[F.allocated_total] += pos
    r[F.count_total] += r[F.count]
    r[F.last_frame_peak] = r[F.peak_frame]
    r[F.frame_open] = 0
    r[F.limit] = -1
    release_heap_list(r)
    if r[F.policy] == POLICY_GROW and r[F.capacity] < r[F.peak_frame]:
        if _install_chunk(r, _round_up(r[F.peak_frame], CHUNK_ALIGN)):
            r[F.chunks_grown] += 1
    r[F.cursor] = 0
    r[F.used_before] = 0
    r[F.count] = 0


@register_jitable
def _row_figures(a):
    """``(bytes, allocations, peak, heap fallbacks)`` of the open frame of the row at ``a``."""
    r = row_view(a)
    pos = r[F.used_before] + r[F.cursor]
    n = 0
    mi = r[F.heap_list]
    while mi != 0:
        n += 1
        mi = carray(_as_i64_ptr(nrt_data(mi)), (1,))[0]
    return pos, r[F.count], max(r[F.peak_frame], pos), n


@njit(cache=True)
def end_frame(addr, workers):
    """Close the frame of the thread slot whose first row is at ``addr``: its first row and the
    worker rows that joined it (:func:`join_frame`); write the frame's history entry."""
    r0 = row_view(addr)
    if r0[F.frame_open] == 0:
        return ST.END_NO_BEGIN
    rb = r0[F.orgrow]
    h = ld(rb + 8 * RB_HISTORY)
    frame = r0[F.frame_number]
    d = tag_hist = 0
    if h != 0:
        # This frame's detail entry: its frame number, then zeroed tag bytes.
        mt = ld(r0[F.org] + 8 * H_MAXTAGS)
        d = ld(rb + 8 * RB_HIST_DETAIL) + (frame & ld(rb + 8 * RB_HIST_MASK)) * (HD_HDR + mt) * 8
        st(d + 8 * HD_FRAME, frame)
        tag_hist = d + 8 * HD_HDR
        for k in range(mt):
            st(tag_hist + 8 * k, 0)
    nbytes = count = peak = fallbacks = 0
    joined = rb + 8 * RB_JOINED
    if ld(joined) != 0:
        for w in range(1, workers):
            a = addr + w * ROW_BYTES
            if row_view(a)[F.frame_open] != 0:
                if h != 0:
                    b, c, p, f = _row_figures(a)
                    nbytes += b
                    count += c
                    peak += p
                    fallbacks += f
                _close_row(a, tag_hist)
        st(joined, 0)
    if h != 0:
        b, c, p, f = _row_figures(addr)
        tp_count = ld(rb + 8 * RB_TP_COUNT)
        st(d + 8 * HD_TP_COUNT, tp_count)
        st(d + 8 * HD_TP_BYTES, ld(rb + 8 * RB_TP_BYTES))
        st(d + 8 * HD_TP_ALIVE, transparent_alive(r0, rb, tp_count))
        _close_row(addr, tag_hist)      # zeroes the transparent counters (org.settle_frame)
        _history_entry(h, rb, frame, nbytes + b, count + c, peak + p)
        st(d + 8 * HD_FALLBACKS, fallbacks + f)
        st(d + 8 * HD_OTHER_COUNT, ld(rb + 8 * RB_OTHER_COUNT))
        st(d + 8 * HD_TICKS, cycles())
    else:
        _close_row(addr, 0)
    st(rb + 8 * RB_TP_FREED, 0)         # late frees of this frame's arrays no longer count
    return ST.OK


#: Low bits of ``ORG_ROW.tp_freed``: the frees; the frame number is above them.
TP_FREED_BITS = 32


@register_jitable
def transparent_alive(r0, rb, tp_count):
    """Debug mode: transparent arrays served in the open frame of the first row ``r0`` (whose
    organisation block is at ``rb``) that are still alive: ``tp_count`` minus the frees the
    hook's ``free`` counted for this frame (any thread). -1 when not in debug mode."""
    if ld(r0[F.org] + 8 * H_DEBUG_SITES) == 0:
        return -1
    w = ld(rb + 8 * RB_TP_FREED)
    mask = (1 << TP_FREED_BITS) - 1
    freed = w & mask if (w >> TP_FREED_BITS) == (r0[F.frame_number] & 0x7FFFFFFF) else 0
    return tp_count - freed


@njit(cache=True)
def read_cycles():
    """The timestamp counter frame history entries carry (for calibration)."""
    return cycles()


@njit(cache=True)
def checkpoint(addr, cps_addr, depth):
    """Push a checkpoint of the row at ``addr`` (Python calls it; @njit callers get it inlined by
    LLVM through ``call_cached``).

    Returns ``(status, frame, serial, index, position, chunk_seq, cursor)``; the checkpoint stack
    (``depth`` entries of (serial, position) at ``cps_addr``) records it so rollbacks can tell
    valid checkpoints from ones already rolled past.
    """
    r = row_view(addr)
    if r[F.frame_open] == 0:
        return ST.NO_FRAME, 0, 0, 0, 0, 0, 0
    stack = carray(_as_i64_ptr(cps_addr), (depth, 2))
    serial = r[F.cp_serial] + 1
    r[F.cp_serial] = serial
    pos = r[F.used_before] + r[F.cursor]
    index = r[F.cp_depth]
    slot = index & (depth - 1)     # depth: a power of two (AllocConfig.checkpoint_slots)
    stack[slot, 0] = serial
    stack[slot, 1] = pos
    r[F.cp_depth] = index + 1
    return ST.OK, r[F.frame_number], serial, index, pos, r[F.chunk_seq], r[F.cursor]


@register_jitable
def _rollback_check(r, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index):
    """OK when the checkpoint is valid for row ``r`` (see :func:`rollback`), else
    STALE_CHECKPOINT."""
    if r[F.frame_open] == 0 or frame != r[F.frame_number]:
        return ST.STALE_CHECKPOINT
    d = r[F.cp_depth]
    if index >= d or index < d - depth:
        return ST.STALE_CHECKPOINT
    stack = carray(_as_i64_ptr(cps_addr), (depth, 2))
    slot = index & (depth - 1)     # in range for any index, also a forged negative one
    if stack[slot, 0] != serial or stack[slot, 1] != pos:
        return ST.STALE_CHECKPOINT
    now = r[F.used_before] + r[F.cursor]
    if pos > now or pos < 0:
        return ST.STALE_CHECKPOINT
    if chunk_seq == r[F.chunk_seq]:
        if cursor < 0 or cursor > r[F.cursor] or pos - cursor != r[F.used_before]:
            # fields that disagree with the row: never move the cursor outside
            return ST.STALE_CHECKPOINT
    elif chunk_seq > r[F.chunk_seq] or chunk_seq < 0 or pos > r[F.used_before]:
        return ST.STALE_CHECKPOINT  # a checkpoint in a retired chunk lies before the current chunk
    return ST.OK


@njit(cache=True)
def rollback(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index):
    """Roll the row back to a checkpoint; ``index`` is its place on the checkpoint stack.

    A checkpoint is valid when it is from this frame and still on the stack: a rollback pops
    every checkpoint taken after its target at a higher position, so rolling back to one of those
    later is detected (FA010), as is one pushed out by more than ``depth`` newer checkpoints.
    """
    r = row_view(addr)
    status = _rollback_check(r, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)
    if status != ST.OK:
        return status
    now = r[F.used_before] + r[F.cursor]
    _settle_peak(r)
    O.rollback_segments(addr, pos)
    r[F.allocated_total] += now - pos
    if chunk_seq == r[F.chunk_seq]:
        r[F.cursor] = cursor
    else:
        # The frame grew into a newer chunk after the checkpoint: keep the newer (larger) chunk,
        # restart it, and account the bytes before the checkpoint as used.
        r[F.cursor] = 0
        r[F.used_before] = pos
    r[F.cp_depth] = index + 1
    r[F.rollbacks] += 1
    O.set_limit(addr)
    return ST.OK


@njit(cache=True)
def rollback_fast(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index):
    """:func:`rollback` in the common case (@njit callers get it inlined by LLVM through
    ``call_cached``; -1 sends them to the kernel): the checkpoint is in
    the current chunk, the row's tag is the root and its segment began before the checkpoint,
    no budget lease. The status, or -1 to call :func:`rollback`."""
    r = row_view(addr)
    if r[F.tag] != 0 or r[F.budget_end] != NO_LIMIT or chunk_seq != r[F.chunk_seq] \
            or pos < r[F.seg_pos]:
        return -1
    status = _rollback_check(r, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)
    if status != ST.OK:
        return status
    now = r[F.used_before] + r[F.cursor]
    if now > r[F.peak_frame]:
        r[F.peak_frame] = now
    if now > r[F.peak]:
        r[F.peak] = now
    # org.rollback_segments: nothing logged past the checkpoint, the open segment is the root's.
    r[F.allocated_total] += now - pos
    r[F.cursor] = cursor
    r[F.cp_depth] = index + 1
    r[F.rollbacks] += 1
    r[F.limit] = r[F.capacity] if r[F.meminfo] != 0 else -1
    return ST.OK


@njit(cache=True)
def release_checkpoint(addr, serial, index):
    """Forget the newest checkpoint when it is ``serial`` (a committed guard): keeps the stack short."""
    r = row_view(addr)
    if r[F.cp_depth] == index + 1 and r[F.cp_serial] == serial:
        r[F.cp_depth] = index
    return ST.OK


# ---------------------------------------------------------------------------------------------
# Debug mode (AllocConfig(debug=True)): poisoning and @njit allocation sites. Nothing above calls
# these: a debug allocator's Python class and its @njit type (kernels.njit_api) choose them, so
# the kernels and the compiled code of an allocator that is not in debug mode never test a flag.

#: The byte debug mode writes over frame memory whose frame ended or was rolled back: ``0xFF``
#: bytes are NaN in every float dtype (float16/32/64 and complex parts), -1 in signed integers,
#: the largest value in unsigned ones, True in bool.
POISON_BYTE = 0xFF

#: Byte offsets in numba's NRT ``MemInfo`` (numba/core/runtime/nrt.cpp): data pointer and size.
_MI_DATA, _MI_SIZE = 24, 32


@intrinsic
def poison_bytes(typingctx, addr, nbytes):
    """Set ``nbytes`` bytes at ``addr`` to :data:`POISON_BYTE` (no-op for ``nbytes <= 0``)."""
    sig = types.void(types.intp, types.intp)

    def codegen(context, builder, signature, args):
        n = builder.select(builder.icmp_signed(">", args[1], ir.Constant(args[1].type, 0)),
                           args[1], ir.Constant(args[1].type, 0))
        cgutils.memset(builder, builder.inttoptr(args[0], cgutils.voidptr_t), n, POISON_BYTE)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _poison_row(a):
    """Poison what the open frame of the row at ``a`` holds in its current chunk and in its heap
    fallbacks (chunks retired by growth during the frame are not reachable from the row)."""
    r = row_view(a)
    if r[F.meminfo] != 0:
        poison_bytes(r[F.base], r[F.cursor])
    mi = r[F.heap_list]
    while mi != 0:
        data = ld(mi + _MI_DATA)
        nxt = ld(data)                      # the list link (the fallback's first word) stays
        poison_bytes(data + 8, ld(mi + _MI_SIZE) - 8)
        mi = nxt


@njit(cache=True)
def end_frame_debug(addr, workers):
    """:func:`end_frame` of a debug allocator: poison the frame's memory (every row of the slot
    that joined it), then end it."""
    r0 = row_view(addr)
    if r0[F.frame_open] == 0:
        return ST.END_NO_BEGIN
    if ld(r0[F.orgrow] + 8 * RB_JOINED) != 0:
        for w in range(1, workers):
            a = addr + w * ROW_BYTES
            if row_view(a)[F.frame_open] != 0:
                _poison_row(a)
    _poison_row(addr)
    return end_frame(addr, workers)


@register_jitable
def _poison_since(r, chunk_seq, cursor):
    """Poison what the row ``r`` allocated in its current chunk after a checkpoint at
    (``chunk_seq``, ``cursor``): the whole chunk's use when the frame grew into it after."""
    if r[F.meminfo] != 0:
        start = cursor if chunk_seq == r[F.chunk_seq] else 0
        poison_bytes(r[F.base] + start, r[F.cursor] - start)


@njit(cache=True)
def rollback_debug(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index):
    """:func:`rollback` of a debug allocator: poison what was allocated after the checkpoint in
    the current chunk (the whole chunk's use when the frame grew into it after the checkpoint),
    then roll back. Nothing is poisoned when the checkpoint is refused."""
    r = row_view(addr)
    status = _rollback_check(r, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)
    if status != ST.OK:
        return status
    _poison_since(r, chunk_seq, cursor)
    return rollback(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)


@njit(cache=True)
def record_site(row, worker, workers, name, nbytes):
    """Count one @njit frame allocation of ``nbytes`` made by the compiled function whose name
    is the constant string at ``name``, in the debug site table of the row at ``row`` (this
    slot's ``worker``-th row). Entries of an older frame are reused; when the row's
    :data:`DEBUG_SITES` entries are taken, the last one counts the rest."""
    r = row_view(row)
    table = ld(r[F.org] + 8 * H_DEBUG_SITES)
    if table == 0:
        return
    slot = ld(r[F.orgrow] + 8 * RB_SLOT)
    e0 = table + (slot * workers + worker) * DEBUG_SITES * DS_WORDS * 8
    frame = r[F.frame_number]
    for k in range(DEBUG_SITES):
        e = e0 + k * DS_WORDS * 8
        if ld(e + 8 * DS_FRAME) != frame or ld(e + 8 * DS_NAME) == 0:
            st(e + 8 * DS_NAME, name)
            st(e + 8 * DS_FRAME, frame)
            st(e + 8 * DS_COUNT, 1)
            st(e + 8 * DS_BYTES, nbytes)
            if k + 1 < DEBUG_SITES:
                st(e + DS_WORDS * 8 + 8 * DS_FRAME, -1)    # the next entry is free
            return
        if ld(e + 8 * DS_NAME) == name or k == DEBUG_SITES - 1:
            st(e + 8 * DS_COUNT, ld(e + 8 * DS_COUNT) + 1)
            st(e + 8 * DS_BYTES, ld(e + 8 * DS_BYTES) + nbytes)
            return


# -- nested scopes: a checkpoint that is ended once, in order ------------------------------------

SCOPE_BIT = _SCOPE_BIT     # see framealloc.checkpoints


@njit(cache=True)
def scope_begin(addr, cps_addr, depth):
    """:func:`checkpoint`, marked as a scope (``SCOPE_BIT`` in its serial). Same result."""
    status, frame, serial, index, pos, chunk_seq, cursor = hot_call(checkpoint,
                                                                    (addr, cps_addr, depth))
    if status == ST.OK:
        serial |= SCOPE_BIT
        stack = carray(_as_i64_ptr(cps_addr), (depth, 2))
        stack[index & (depth - 1), 0] = serial
    return status, frame, serial, index, pos, chunk_seq, cursor


@njit(cache=True)
def scope_end_fast(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index):
    """:func:`scope_end` in the common case (@njit callers get it inlined by LLVM): the scope is
    the newest entry of the stack and :func:`rollback_fast` applies. The status, or -1 to call
    :func:`scope_end`."""
    r = row_view(addr)
    if index != r[F.cp_depth] - 1:
        return -1
    status = hot_call(rollback_fast, (addr, cps_addr, depth, frame, serial, pos, chunk_seq,
                                      cursor, index))
    if status == ST.OK:
        r[F.cp_depth] = index
    return status


@register_jitable
def _scope_end_check(r, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index):
    """:func:`_rollback_check`, and SCOPE_ORDER while a scope begun after this one is open."""
    status = _rollback_check(r, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)
    if status != ST.OK:
        return status
    stack = carray(_as_i64_ptr(cps_addr), (depth, 2))
    for i in range(index + 1, r[F.cp_depth]):
        if stack[i & (depth - 1), 0] & SCOPE_BIT:
            return ST.SCOPE_ORDER
    return ST.OK


@njit(cache=True)
def scope_end(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index):
    """End a scope: roll back to its checkpoint and pop it. SCOPE_ORDER (nothing changed) when a
    scope begun after it is still open; STALE_CHECKPOINT when it already ended (or an earlier
    rollback or frame end went past it). Plain checkpoints taken inside the scope end with it."""
    r = row_view(addr)
    status = _scope_end_check(r, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)
    if status != ST.OK:
        return status
    status = rollback(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)
    if status == ST.OK:
        r[F.cp_depth] = index
    return status


@njit(cache=True)
def scope_end_debug(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index):
    """:func:`scope_end` of a debug allocator: poison what the scope allocated (as
    :func:`rollback_debug` does), then end it. Nothing is poisoned when the end is refused."""
    r = row_view(addr)
    status = _scope_end_check(r, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)
    if status != ST.OK:
        return status
    _poison_since(r, chunk_seq, cursor)
    return scope_end(addr, cps_addr, depth, frame, serial, pos, chunk_seq, cursor, index)
