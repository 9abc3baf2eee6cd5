"""Slot-table kernels of typed pools and size-class pools: the hot intrinsics and the cold paths.

Like :mod:`framealloc.kernels.arena`, everything works on the *address* of a header row
(:mod:`framealloc.kernels.layout`), so one compiled specialisation serves every pool and is
called the same way from Python (the pool passes its header address) and from user @njit code
(the pool's native struct holds the same address).

Hot path: :func:`slot_acquire` and :func:`slot_release` are intrinsics: a handful of loads and
stores on the header and the two int32 arrays with the checks fused, so no NRT refcounting and no
call happens on the fast path.
Growth (:func:`typed_grow`, :func:`class_grow`) is a cold call made when the stack is empty.

Nothing here raises: kernels and intrinsics return statuses (negative from acquire), which the
Python API and the inline @njit overloads (:mod:`framealloc.kernels.pools_njit`) turn into FA1xx
exceptions. (When a callee raises, numba does not release the caller's live arrays; a ``raise``
statement inlined into the caller is cleaned up properly.)

Tags and budgets: pools of a SmartAlloc charge each acquire to the calling thread's tag and the
budgets over it (:func:`framealloc.kernels.org.charge`) *before* taking the slot, and record the
tag in the slot's entry of the ``TAGS`` array; a release gives the bytes back to that tag. The
@njit hot path only tests :func:`org_busy` (the row's ``tag`` and the org header's ``H_ACTIVE``:
two loads) and :func:`release_busy`; the charging kernels here (``*_org``, :func:`slot_uncharge`)
are cold calls made only when a tag or a budget is on. A free slot's tag is always 0.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import carray, literally, njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, register_jitable

from . import org as orgk
from ._intrinsics import thread_id
from . import status as ST
from .arena import nrt_alloc_aligned, nrt_release
from .layout import (
    ARENA_DTYPE,
    GEN_MASK,
    H_ACTIVE,
    H_CTRS,
    KIND_POOL,
    MAX_CLASS_SLOTS,
    ORG_HEADER_DTYPE,
    POLICY_CLOSED,
    POLICY_ERROR,
    POOL_HDR_WORDS as HDR_WORDS,
    SLOT_MASK,
    F,
    H,
    ROW_BYTES,
    class_buffer_bytes,
    class_tag_offset,
    gen_offset,
    stack_offset,
    tag_offset,
    typed_buffer_bytes,
)

_gen_offset = register_jitable(gen_offset)
_stack_offset = register_jitable(stack_offset)
_tag_offset = register_jitable(tag_offset)
_typed_buffer_bytes = register_jitable(typed_buffer_bytes)
_class_tag_offset = register_jitable(class_tag_offset)
_class_buffer_bytes = register_jitable(class_buffer_bytes)


# ---------------------------------------------------------------------------------------------
# Memory helpers


@intrinsic
def _ptr(typingctx, addr, dtype):
    """``addr`` as a typed pointer (for ``carray``)."""
    if isinstance(dtype, types.NumberClass):
        nb = dtype.instance_type
    elif isinstance(dtype, types.DType):
        nb = dtype.dtype
    else:
        return None
    sig = types.CPointer(nb)(addr, dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


@intrinsic
def mem_copy(typingctx, dst, src, nbytes):
    """memcpy between two addresses."""
    sig = types.void(types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        d, s, n = args
        cgutils.raw_memcpy(builder, builder.inttoptr(d, cgutils.voidptr_t),
                           builder.inttoptr(s, cgutils.voidptr_t), n, 1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def mem_zero(typingctx, dst, nbytes):
    """memset(dst, 0, nbytes)."""
    sig = types.void(types.intp, types.intp)

    def codegen(context, builder, signature, args):
        cgutils.memset(builder, builder.inttoptr(args[0], cgutils.voidptr_t), args[1], 0)
        return context.get_dummy_value()

    return sig, codegen


@register_jitable
def words(addr):
    """The int64 words of the header row at ``addr``."""
    return carray(_ptr(addr, types.int64), (HDR_WORDS,))


@register_jitable
def i32s(addr, n):
    return carray(_ptr(addr, types.int32), (n,))


@register_jitable
def i64s(addr, n):
    return carray(_ptr(addr, types.int64), (n,))


# ---------------------------------------------------------------------------------------------
# The hot path

def _hptr(builder, addr, word):
    return builder.inttoptr(builder.add(addr, ir.Constant(cgutils.intp_t, 8 * int(word))),
                            cgutils.intp_t.as_pointer())


def _load(builder, addr, word):
    return builder.load(_hptr(builder, addr, word))


def _store(builder, addr, word, value):
    builder.store(value, _hptr(builder, addr, word))


def _grow_typed(addr):
    return typed_grow(addr, 0)


def _grow_class(addr):
    return class_grow(addr)


_GROW = {0: _grow_typed, 1: _grow_class}


@intrinsic
def slot_acquire(typingctx, addr, kind):
    """Pop a free slot of the slot table at ``addr``; returns its handle ``(gen << 32) | slot``,
    or ``-status`` when the table is empty and cannot grow.

    ``kind`` (literal) picks the cold growth call: 0 typed pool, 1 size class. Intrinsics never
    raise: numba does not release the caller's live arrays when a callee raises, so the callers
    (inline overloads) raise with a plain ``raise`` statement, which numba cleans up after.
    """
    if not isinstance(kind, types.IntegerLiteral):
        raise TypingError("kind must be a literal")
    grow = _GROW[kind.literal_value]
    sig = types.int64(types.intp, kind)

    def codegen(context, builder, signature, args):
        a = args[0]
        i32, i64 = ir.IntType(32), ir.IntType(64)
        res = cgutils.alloca_once(builder, i64)
        bb_end = builder.append_basic_block("acquire.end")
        top = _load(builder, a, H.TOP)
        with builder.if_then(builder.icmp_signed("<=", top, ir.Constant(i64, 0)), likely=False):
            st = context.compile_internal(builder, grow, types.intp(types.intp), [a])
            with builder.if_then(builder.icmp_signed("!=", st, ir.Constant(i64, ST.OK)),
                                 likely=False):
                builder.store(builder.neg(st), res)
                builder.branch(bb_end)
        top1 = builder.sub(_load(builder, a, H.TOP), ir.Constant(i64, 1))
        stack = builder.inttoptr(_load(builder, a, H.STACK), i32.as_pointer())
        slot = builder.sext(builder.load(builder.gep(stack, [top1])), i64)
        _store(builder, a, H.TOP, top1)
        gp = builder.gep(builder.inttoptr(_load(builder, a, H.GEN), i32.as_pointer()), [slot])
        g1 = builder.and_(builder.add(builder.load(gp), ir.Constant(i32, 1)),
                          ir.Constant(i32, GEN_MASK))
        builder.store(g1, gp)
        _store(builder, a, H.ACQ, builder.add(_load(builder, a, H.ACQ), ir.Constant(i64, 1)))
        live = builder.sub(_load(builder, a, H.SLOTS), top1)
        peak = _load(builder, a, H.PEAK)
        _store(builder, a, H.PEAK, builder.select(builder.icmp_signed(">", live, peak), live, peak))
        builder.store(builder.or_(builder.shl(builder.zext(g1, i64), ir.Constant(i64, 32)), slot),
                      res)
        builder.branch(bb_end)
        builder.position_at_end(bb_end)
        return builder.load(res)

    return sig, codegen


@intrinsic
def slot_release(typingctx, addr, key):
    """Push slot ``key & 0xFFFFFFFF`` back; ``key >> 32`` is its generation (0: unchecked).
    Returns OK or the failure status (nothing changed then): DOUBLE_FREE for a slot that is not
    live, STALE_HANDLE for a generation that does not match."""
    sig = types.int64(types.intp, types.int64)

    def codegen(context, builder, signature, args):
        a, key = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        status = cgutils.alloca_once_value(builder, ir.Constant(i64, ST.OK))
        slot = builder.and_(key, ir.Constant(i64, SLOT_MASK))
        kg = builder.ashr(key, ir.Constant(i64, 32))
        inrange = builder.icmp_unsigned("<", slot, _load(builder, a, H.CAP))
        with builder.if_else(inrange, likely=True) as (then, otherwise):
            with then:
                gp = builder.gep(builder.inttoptr(_load(builder, a, H.GEN), i32.as_pointer()),
                                 [slot])
                g = builder.load(gp)
                g64 = builder.zext(g, i64)
                live = builder.icmp_unsigned("!=", builder.and_(g, ir.Constant(i32, 1)),
                                             ir.Constant(i32, 0))
                match = builder.or_(builder.icmp_signed("==", kg, ir.Constant(i64, 0)),
                                    builder.icmp_signed("==", kg, g64))
                with builder.if_else(builder.and_(live, match), likely=True) as (good, bad):
                    with good:
                        builder.store(builder.and_(builder.add(g, ir.Constant(i32, 1)),
                                                   ir.Constant(i32, GEN_MASK)), gp)
                        top = _load(builder, a, H.TOP)
                        stack = builder.inttoptr(_load(builder, a, H.STACK), i32.as_pointer())
                        builder.store(builder.trunc(slot, i32), builder.gep(stack, [top]))
                        _store(builder, a, H.TOP, builder.add(top, ir.Constant(i64, 1)))
                    with bad:
                        builder.store(builder.select(live, ir.Constant(i64, ST.STALE_HANDLE),
                                                     ir.Constant(i64, ST.DOUBLE_FREE)), status)
            with otherwise:
                closed = builder.icmp_signed("==", _load(builder, a, H.POLICY),
                                             ir.Constant(i64, POLICY_CLOSED))
                builder.store(builder.select(closed, ir.Constant(i64, ST.POOL_CLOSED),
                                             ir.Constant(i64, ST.SLOT_RANGE)), status)
        return builder.load(status)

    return sig, codegen


@register_jitable
def slot_status(addr, key):
    """OK when ``key`` names a live slot (generation checked unless 0), else why not: a
    lookup of a slot that is not live is STALE_HANDLE (FA103), as is a stale generation."""
    h = words(addr)
    slot = key & SLOT_MASK
    if slot >= h[H.CAP] or key < 0:
        return ST.POOL_CLOSED if h[H.POLICY] == POLICY_CLOSED else ST.SLOT_RANGE
    g = i32s(h[H.GEN], h[H.CAP])[slot]
    if g & 1 == 0:
        return ST.STALE_HANDLE
    kg = key >> 32
    if kg != 0 and kg != g:
        return ST.STALE_HANDLE
    return ST.OK


# ---------------------------------------------------------------------------------------------
# Cold paths (also called from Python)

@njit(cache=True)
def typed_grow(addr, want):
    """Grow a typed pool's buffer to ``want`` slots (0: automatic doubling, refused under the
    "error" policy). Records and generations are copied, new records zeroed, new slots pushed
    under the free ones so they are handed out in ascending order. OK or a failure status;
    on failure nothing changed."""
    h = words(addr)
    if h[H.POLICY] == POLICY_CLOSED:
        return ST.POOL_CLOSED
    cap = h[H.CAP]
    if want == 0:
        if h[H.POLICY] == POLICY_ERROR or cap >= h[H.MAXCAP]:
            return ST.POOL_EXHAUSTED
        want = min(max(2 * cap, 16), h[H.MAXCAP])
    elif want <= cap:
        return ST.OK
    elif want > h[H.MAXCAP]:
        return ST.POOL_EXHAUSTED
    isz = h[H.ITEMSIZE]
    mi, base = nrt_alloc_aligned(_typed_buffer_bytes(want, isz))
    if mi == 0:
        return ST.POOL_EXHAUSTED
    goff = _gen_offset(want, isz)
    soff = _stack_offset(want, isz)
    toff = _tag_offset(want, isz)
    top = h[H.TOP]
    if cap > 0:
        mem_copy(base, h[H.DATA], cap * isz)
        mem_copy(base + goff, h[H.GEN], cap * 4)
        mem_copy(base + toff, h[H.TAGS], cap * 4)
    mem_zero(base + cap * isz, (want - cap) * isz)
    mem_zero(base + goff + cap * 4, (want - cap) * 4)
    mem_zero(base + toff + cap * 4, (want - cap) * 4)
    stack = i32s(base + soff, want)
    k = want - cap
    for j in range(k):
        stack[j] = want - 1 - j
    if top > 0:
        old = i32s(h[H.STACK], top)
        for j in range(top):
            stack[k + j] = old[j]
    if h[H.MI] != 0:
        nrt_release(h[H.MI])
    h[H.DATA] = base
    h[H.GEN] = base + goff
    h[H.STACK] = base + soff
    h[H.TAGS] = base + toff
    h[H.MI] = mi
    h[H.TOP] = top + k
    h[H.CAP] = want
    h[H.SLOTS] = want
    if cap > 0:
        h[H.GROWS] += 1
    h[H.SERIAL] += 1
    return ST.OK


@njit(cache=True)
def class_grow(addr):
    """Add one page to a size class (re-using a trimmed page-table entry first); the page table
    and the slot arrays are enlarged when needed. OK or a failure status (nothing changed)."""
    h = words(addr)
    if h[H.POLICY] == POLICY_CLOSED:
        return ST.POOL_CLOSED
    bpp = h[H.BPP]
    if bpp <= 0:                       # a page smaller than the class: no block fits
        return ST.POOL_EXHAUSTED
    npages = h[H.NPAGES]
    page = -1
    if h[H.PT_CAP] > 0:
        pt = i64s(h[H.PT], 2 * h[H.PT_CAP])
        for p in range(npages):
            if pt[2 * p] == 0:
                page = p
                break
    new_pt_mi, new_pt, new_pt_cap = 0, 0, h[H.PT_CAP]
    new_sl_mi, new_sl, new_cap = 0, 0, h[H.CAP]
    if page < 0:
        page = npages
        if (page + 1) * bpp > min(h[H.MAXCAP], MAX_CLASS_SLOTS):
            return ST.POOL_EXHAUSTED
        if page >= h[H.PT_CAP]:
            new_pt_cap = max(4, 2 * h[H.PT_CAP])
            new_pt_mi, new_pt = nrt_alloc_aligned(16 * new_pt_cap)
            if new_pt_mi == 0:
                return ST.POOL_EXHAUSTED
        if (page + 1) * bpp > h[H.CAP]:
            new_cap = min(new_pt_cap * bpp, MAX_CLASS_SLOTS)
            new_sl_mi, new_sl = nrt_alloc_aligned(_class_buffer_bytes(new_cap))
            if new_sl_mi == 0:
                if new_pt_mi != 0:
                    nrt_release(new_pt_mi)
                return ST.POOL_EXHAUSTED
    page_mi, page_data = nrt_alloc_aligned(h[H.PAGE_BYTES])
    if page_mi == 0:
        if new_pt_mi != 0:
            nrt_release(new_pt_mi)
        if new_sl_mi != 0:
            nrt_release(new_sl_mi)
        return ST.POOL_EXHAUSTED
    # -- commit ---------------------------------------------------------------------------
    if new_pt_mi != 0:
        mem_zero(new_pt, 16 * new_pt_cap)
        if h[H.PT_MI] != 0:
            mem_copy(new_pt, h[H.PT], 16 * npages)
            nrt_release(h[H.PT_MI])
        h[H.PT], h[H.PT_MI], h[H.PT_CAP] = new_pt, new_pt_mi, new_pt_cap
    if new_sl_mi != 0:
        old_cap = h[H.CAP]
        soff = _gen_offset(new_cap, 4)      # [generations | stack | tags]
        toff = _class_tag_offset(new_cap)
        mem_zero(new_sl, 4 * new_cap)
        mem_zero(new_sl + toff, 4 * new_cap)
        if h[H.MI] != 0:
            mem_copy(new_sl, h[H.GEN], 4 * old_cap)
            mem_copy(new_sl + soff, h[H.STACK], 4 * h[H.TOP])
            mem_copy(new_sl + toff, h[H.TAGS], 4 * old_cap)
            nrt_release(h[H.MI])
        h[H.GEN], h[H.STACK], h[H.MI], h[H.CAP] = new_sl, new_sl + soff, new_sl_mi, new_cap
        h[H.TAGS] = new_sl + toff
    if page == npages:
        h[H.NPAGES] = npages + 1
    pt = i64s(h[H.PT], 2 * h[H.PT_CAP])
    pt[2 * page] = page_data
    pt[2 * page + 1] = page_mi
    stack = i32s(h[H.STACK], h[H.CAP])
    top = h[H.TOP]
    for j in range(bpp):
        stack[top + j] = page * bpp + bpp - 1 - j
    h[H.TOP] = top + bpp
    h[H.SLOTS] += bpp
    h[H.LIVE_PAGES] += 1
    h[H.GROWS] += 1
    h[H.SERIAL] += 1
    return ST.OK


@njit(cache=True)
def py_typed_acquire(addr):
    """Python's ``TypedPool.acquire``: the handle, or ``-status``."""
    return slot_acquire(addr, 0)


@njit(cache=True)
def py_class_acquire(addr):
    """Python's size-class acquire: the handle within the class, or ``-status``."""
    return slot_acquire(addr, 1)


@njit(cache=True)
def py_release(addr, key):
    """Python's release of one slot: a status."""
    return slot_release(addr, key)


@register_jitable
def acquire_many_into(addr, out):
    """Acquire ``len(out)`` slots of a typed pool into ``out`` (indices), all or nothing.

    Grows once up front under the "grow" policy; POOL_EXHAUSTED (no change) under "error"."""
    h = words(addr)
    n = out.shape[0]
    if h[H.POLICY] == POLICY_CLOSED:
        return ST.POOL_CLOSED
    if n > h[H.TOP]:
        if h[H.POLICY] == POLICY_ERROR:
            return ST.POOL_EXHAUSTED
        need = h[H.SLOTS] - h[H.TOP] + n
        want = max(need, min(2 * h[H.CAP], h[H.MAXCAP]))
        if need > h[H.MAXCAP]:
            return ST.POOL_EXHAUSTED
        st = typed_grow(addr, want)
        if st != ST.OK:
            return st
    for j in range(n):
        out[j] = slot_acquire(addr, 0) & SLOT_MASK
    return ST.OK


@register_jitable
def release_many_keys(addr, keys):
    """Release every key, all or nothing: on the first bad key the releases already done are
    undone exactly (stack entries restored, generations stepped back), so the state is
    byte-identical to before. Returns (status, position of the bad key)."""
    n = keys.shape[0]
    h = words(addr)
    top0, cap = h[H.TOP], h[H.CAP]
    m = min(n, cap - top0)
    saved = np.empty(max(m, 0), np.int32)
    if m > 0:
        saved[:] = i32s(h[H.STACK], cap)[top0:top0 + m]
    for j in range(n):
        st = slot_release(addr, keys[j])
        if st != ST.OK:
            stack = i32s(h[H.STACK], cap)
            gens = i32s(h[H.GEN], cap)
            for _ in range(j):
                top = h[H.TOP] - 1
                s = stack[top]
                gens[s] = (gens[s] - 1) & GEN_MASK
                h[H.TOP] = top
            if m > 0:
                stack[top0:top0 + m] = saved
            return st, j
    return ST.OK, -1


@njit(cache=True)
def py_acquire_many(addr, out):
    return acquire_many_into(addr, out)


@njit(cache=True)
def py_release_many(addr, keys):
    return release_many_keys(addr, keys)


# ---------------------------------------------------------------------------------------------
# Tags and budgets

#: What pools without an (open) allocator unbox as ``rows`` and ``org``: zeroed arena rows (one
#: per numba worker: tag 0) and a zeroed org header (no budget, no counters), so the hot path
#: tests the same two words for every pool and never takes the charging path for these.
_NULL_ROWS = None
_NULL_ORG = None


def null_org() -> tuple[int, int]:
    """Addresses of the shared zeroed (rows, org) of pools without an allocator."""
    global _NULL_ROWS, _NULL_ORG
    if _NULL_ROWS is None:
        from numba.core import config

        _NULL_ORG = np.zeros((), ORG_HEADER_DTYPE)
        _NULL_ROWS = np.zeros(max(int(config.NUMBA_NUM_THREADS), 1), ARENA_DTYPE)
    return int(_NULL_ROWS.ctypes.data), int(_NULL_ORG.ctypes.data)


def _worker_row(builder, rows):
    i64 = cgutils.intp_t
    return builder.add(rows, builder.mul(thread_id(builder), ir.Constant(i64, ROW_BYTES)))


@intrinsic
def worker_row(typingctx, rows):
    """The calling worker's arena row: ``rows + get_thread_id() * ROW_BYTES``."""
    sig = types.intp(types.intp)

    def codegen(context, builder, signature, args):
        return _worker_row(builder, args[0])

    return sig, codegen


@intrinsic
def org_busy(typingctx, rows, org):
    """Whether the calling worker's tag or any budget asks for a charge: two loads (the row's
    ``tag``, the org header's ``H_ACTIVE``), no call (the thread id is a ``readnone`` call that
    LLVM hoists out of loops). The hot path of an untagged, unbudgeted acquire."""
    sig = types.boolean(types.intp, types.intp)

    def codegen(context, builder, signature, args):
        rows_v, org_v = args
        row = _worker_row(builder, rows_v)
        busy = builder.or_(_load(builder, row, F.tag), _load(builder, org_v, H_ACTIVE))
        return builder.icmp_signed("!=", busy, ir.Constant(cgutils.intp_t, 0))

    return sig, codegen


@intrinsic
def release_busy(typingctx, addr, key, org):
    """After a successful release of ``key``: whether its slot carries a tag, or budgets are on
    (then :func:`slot_uncharge` gives the bytes back). Three loads, no call."""
    sig = types.boolean(types.intp, types.int64, types.intp)

    def codegen(context, builder, signature, args):
        a, key, org_v = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        slot = builder.and_(key, ir.Constant(i64, SLOT_MASK))
        tags = builder.inttoptr(_load(builder, a, H.TAGS), i32.as_pointer())
        t = builder.sext(builder.load(builder.gep(tags, [slot])), i64)
        busy = builder.or_(t, _load(builder, org_v, H_ACTIVE))
        return builder.icmp_signed("!=", busy, ir.Constant(i64, 0))

    return sig, codegen


@register_jitable
def _has_org(org):
    """Whether ``org`` is a real organisation header (not the zeroed one of :func:`null_org`)."""
    return i64s(org, H_CTRS + 1)[H_CTRS] != 0


@register_jitable
def _slot_tags(h):
    return i32s(h[H.TAGS], h[H.CAP])


@register_jitable
def _recount(org, tag, allocs, frees):
    """One charge/release of n slots counts as one allocation/free: make it n (tag counters
    only; the root tag's counts come from the pools' own counters)."""
    if tag != 0 and _has_org(org):
        if allocs != 0:
            orgk._attr(org, tag, KIND_POOL, 0, allocs, 1)
        if frees != 0:
            orgk._attr(org, tag, KIND_POOL, 0, frees, -1)


TAKE_TYPED, TAKE_CLASS, TAKE_MANY = 0, 1, 2   # what :func:`acquire_org` takes


@register_jitable
def no_keys():
    """The ``out`` of a one-slot :func:`acquire_org`: an empty int64 array over no memory (no
    allocation)."""
    return i64s(0, 0)


@register_jitable
def tag_slot(addr, k, tag):
    """Record ``tag`` in the ``TAGS`` entry of the slot just taken (handle ``k``), in the same
    compiled call as the take, so no thread sees a slot whose tag is not written yet."""
    if tag != 0:
        _slot_tags(words(addr))[k & SLOT_MASK] = tag


@register_jitable
def tag_slots(addr, keys, tag):
    """:func:`tag_slot` for the slots of ``keys`` (indices)."""
    if tag != 0:
        tags = _slot_tags(words(addr))
        for j in range(keys.shape[0]):
            tags[keys[j]] = tag


@njit(cache=True)
def acquire_org(addr, row, how, out):
    """Charge, take, give back on failure: every pool acquire with a tag or budgets on, in
    @njit code. Python's twin is :func:`framealloc.tags.charge_take` (which also runs the
    soft-limit callbacks); its takes are the ``py_*_tag`` kernels below.

    ``how`` (a literal: compiled once per value, with only its own take): :data:`TAKE_TYPED` /
    :data:`TAKE_CLASS`, one slot of the typed pool / size class at ``addr`` (``out``:
    :func:`no_keys`), or :data:`TAKE_MANY`, ``len(out)`` slots of a typed pool into ``out``,
    all or nothing. Charges the slots' bytes (``ITEMSIZE`` each) to row ``row``'s tag and
    budgets (a hard budget: ``-BUDGET_EXCEEDED``, nothing changed but the refusal counters),
    takes them and records the tag; when the take fails the charge is refunded
    (:func:`framealloc.kernels.org.refund`) and its ``-status`` returned. One charge of n slots
    counts as n allocations. Returns the handle (one slot), 0 (many), or ``-status``."""
    literally(how)
    h = words(addr)
    if h[H.POLICY] == POLICY_CLOSED:
        return -ST.POOL_CLOSED
    n = out.shape[0] if how == TAKE_MANY else 1
    if n == 0:
        return 0
    nb = n * h[H.ITEMSIZE]
    st, tag = orgk.charge(row, KIND_POOL, nb)
    if st != 0:
        return -ST.BUDGET_EXCEEDED
    if how == TAKE_MANY:
        r = -acquire_many_into(addr, out)
    elif how == TAKE_CLASS:
        r = slot_acquire(addr, 1)
    else:
        r = slot_acquire(addr, 0)
    if r < 0:
        orgk.refund(row, KIND_POOL, tag, nb)
        return r
    if how == TAKE_MANY:
        tag_slots(addr, out, tag)
        _recount(words(row)[F.org], tag, n - 1, 0)
    else:
        tag_slot(addr, r, tag)
    return r


@njit(cache=True)
def slot_uncharge(addr, org, key):
    """After the release of ``key``: give its bytes back to the tag recorded at acquire time (and
    the budgets; without an allocator (gone or closed) only the tag entry is cleared)."""
    h = words(addr)
    tags = _slot_tags(h)
    s = key & SLOT_MASK
    t = tags[s]
    tags[s] = 0
    if _has_org(org):
        orgk.release(org, KIND_POOL, t, h[H.ITEMSIZE])


@register_jitable
def uncharge_keys(addr, org, keys):
    """After :func:`release_many_keys` succeeded: clear the slots' tags and give their bytes
    back, one release per run of equal tags."""
    h = words(addr)
    tags = _slot_tags(h)
    isz = h[H.ITEMSIZE]
    real = _has_org(org)
    prev = -1
    run = 0
    for j in range(keys.shape[0] + 1):
        t = -1
        if j < keys.shape[0]:
            s = keys[j] & SLOT_MASK
            t = tags[s]
            tags[s] = 0
            if t == prev:
                run += 1
                continue
        if run > 0 and real:
            orgk.release(org, KIND_POOL, prev, run * isz)
            _recount(org, prev, 0, run - 1)
        prev = t
        run = 1


@njit(cache=True)
def release_many_org(addr, org, keys):
    """:func:`release_many_keys`, then the tags and budgets of the released slots."""
    st, pos = release_many_keys(addr, keys)
    if st == ST.OK:
        uncharge_keys(addr, org, keys)
    return st, pos


# Python's paths: the charge is made by ``SmartAlloc._org_charge`` (soft-limit callbacks and
# FA154 messages live there); these record and return tags within one compiled call, so another
# Python thread can never see a slot whose tag is not written yet.

@njit(cache=True)
def py_typed_acquire_tag(addr, tag):
    k = slot_acquire(addr, 0)
    if k >= 0:
        tag_slot(addr, k, tag)
    return k


@njit(cache=True)
def py_class_acquire_tag(addr, tag):
    k = slot_acquire(addr, 1)
    if k >= 0:
        tag_slot(addr, k, tag)
    return k


@njit(cache=True)
def py_release_tag(addr, key):
    """Release ``key``: (status, the tag its slot was charged to)."""
    st = slot_release(addr, key)
    if st != ST.OK:
        return st, 0
    tags = _slot_tags(words(addr))
    s = key & SLOT_MASK
    t = tags[s]
    tags[s] = 0
    return st, np.int64(t)


@njit(cache=True)
def py_acquire_many_tag(addr, out, tag):
    st = acquire_many_into(addr, out)
    if st == ST.OK:
        tag_slots(addr, out, tag)
    return st


@njit(cache=True)
def py_release_many_tag(addr, keys, tags_out):
    """Release every key (all or nothing); on success ``tags_out[j]`` is the tag of ``keys[j]``."""
    st, pos = release_many_keys(addr, keys)
    if st == ST.OK:
        tags = _slot_tags(words(addr))
        for j in range(keys.shape[0]):
            s = keys[j] & SLOT_MASK
            tags_out[j] = tags[s]
            tags[s] = 0
    return st, pos


@njit(cache=True)
def recount(org, tag, allocs, frees):
    """Python's :func:`_recount`."""
    _recount(org, tag, allocs, frees)
