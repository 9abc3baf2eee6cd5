"""Slot-table kernels of typed pools and size-class pools: the hot intrinsics and the cold paths.

Like :mod:`framealloc.kernels.arena`, everything works on the *address* of a header row
(:mod:`framealloc.kernels.pool_state`), so one compiled specialisation serves every pool and is
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
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, register_jitable
from numba.np.arrayobj import make_array, populate_array

from .arena import nrt_alloc_aligned, nrt_release
from .pool_state import (
    GEN_MASK,
    HDR_WORDS,
    MAX_CLASS_SLOTS,
    POLICY_CLOSED,
    POLICY_ERROR,
    SLOT_MASK,
    ST_CLOSED,
    ST_FULL,
    ST_NOT_LIVE,
    ST_OK,
    ST_OOM,
    ST_RANGE,
    ST_STALE,
    H,
    gen_offset,
    stack_offset,
    typed_buffer_bytes,
)

_gen_offset = register_jitable(gen_offset)
_stack_offset = register_jitable(stack_offset)
_typed_buffer_bytes = register_jitable(typed_buffer_bytes)


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
# Views

def resolve_nb_dtype(ty):
    """numba element type of a dtype argument (np.float32, np.dtype(...), a record)."""
    from .njit_api import resolve_numba_dtype
    return resolve_numba_dtype(ty)[0]


@intrinsic
def make_view(typingctx, data, meminfo, n, dtype):
    """A 1-D C array of ``n`` elements at address ``data`` that holds a reference to ``meminfo``
    (0: none, for views that never leave the kernel)."""
    nb = resolve_nb_dtype(dtype)
    arrty = types.Array(nb, 1, "C")
    sig = arrty(types.intp, types.intp, types.intp, dtype)

    def codegen(context, builder, signature, args):
        d, mi, count, _ = args
        ary = make_array(arrty)(context, builder)
        itemsize = context.get_abi_sizeof(context.get_data_type(nb))
        intp = cgutils.intp_t
        populate_array(ary, data=builder.inttoptr(d, context.get_data_type(nb).as_pointer()),
                       shape=[count], strides=[ir.Constant(intp, itemsize)],
                       itemsize=ir.Constant(intp, itemsize),
                       meminfo=builder.inttoptr(mi, cgutils.voidptr_t))
        value = ary._getvalue()
        context.nrt.incref(builder, arrty, value)
        return value

    return sig, codegen


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
            with builder.if_then(builder.icmp_signed("!=", st, ir.Constant(i64, ST_OK)),
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
    Returns ST_OK or the failure status (nothing changed then)."""
    sig = types.int64(types.intp, types.int64)

    def codegen(context, builder, signature, args):
        a, key = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        status = cgutils.alloca_once_value(builder, ir.Constant(i64, ST_OK))
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
                        builder.store(builder.select(live, ir.Constant(i64, ST_STALE),
                                                     ir.Constant(i64, ST_NOT_LIVE)), status)
            with otherwise:
                closed = builder.icmp_signed("==", _load(builder, a, H.POLICY),
                                             ir.Constant(i64, POLICY_CLOSED))
                builder.store(builder.select(closed, ir.Constant(i64, ST_CLOSED),
                                             ir.Constant(i64, ST_RANGE)), status)
        return builder.load(status)

    return sig, codegen


@register_jitable
def slot_status(addr, key):
    """ST_OK when ``key`` names a live slot (generation checked unless 0), else why not."""
    h = words(addr)
    slot = key & SLOT_MASK
    if slot >= h[H.CAP] or key < 0:
        return ST_CLOSED if h[H.POLICY] == POLICY_CLOSED else ST_RANGE
    g = i32s(h[H.GEN], h[H.CAP])[slot]
    if g & 1 == 0:
        return ST_NOT_LIVE
    kg = key >> 32
    if kg != 0 and kg != g:
        return ST_STALE
    return ST_OK


# ---------------------------------------------------------------------------------------------
# Cold paths (also called from Python)

@njit(cache=True)
def typed_grow(addr, want):
    """Grow a typed pool's buffer to ``want`` slots (0: automatic doubling, refused under the
    "error" policy). Records and generations are copied, new records zeroed, new slots pushed
    under the free ones so they are handed out in ascending order. ST_OK or a failure status;
    on failure nothing changed."""
    h = words(addr)
    if h[H.POLICY] == POLICY_CLOSED:
        return ST_CLOSED
    cap = h[H.CAP]
    if want == 0:
        if h[H.POLICY] == POLICY_ERROR or cap >= h[H.MAXCAP]:
            return ST_FULL
        want = min(max(2 * cap, 16), h[H.MAXCAP])
    elif want <= cap:
        return ST_OK
    elif want > h[H.MAXCAP]:
        return ST_FULL
    isz = h[H.ITEMSIZE]
    mi, base = nrt_alloc_aligned(_typed_buffer_bytes(want, isz))
    if mi == 0:
        return ST_OOM
    goff = _gen_offset(want, isz)
    soff = _stack_offset(want, isz)
    top = h[H.TOP]
    if cap > 0:
        mem_copy(base, h[H.DATA], cap * isz)
        mem_copy(base + goff, h[H.GEN], cap * 4)
    mem_zero(base + cap * isz, (want - cap) * isz)
    mem_zero(base + goff + cap * 4, (want - cap) * 4)
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
    h[H.MI] = mi
    h[H.TOP] = top + k
    h[H.CAP] = want
    h[H.SLOTS] = want
    if cap > 0:
        h[H.GROWS] += 1
    h[H.SERIAL] += 1
    return ST_OK


@njit(cache=True)
def class_grow(addr):
    """Add one page to a size class (re-using a trimmed page-table entry first); the page table
    and the slot arrays are enlarged when needed. ST_OK or a failure status (nothing changed)."""
    h = words(addr)
    if h[H.POLICY] == POLICY_CLOSED:
        return ST_CLOSED
    bpp = h[H.BPP]
    if bpp <= 0:                       # a page smaller than the class: no block fits
        return ST_FULL
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
            return ST_FULL
        if page >= h[H.PT_CAP]:
            new_pt_cap = max(4, 2 * h[H.PT_CAP])
            new_pt_mi, new_pt = nrt_alloc_aligned(16 * new_pt_cap)
            if new_pt_mi == 0:
                return ST_OOM
        if (page + 1) * bpp > h[H.CAP]:
            new_cap = min(new_pt_cap * bpp, MAX_CLASS_SLOTS)
            new_sl_mi, new_sl = nrt_alloc_aligned(_gen_offset(new_cap, 4) + 4 * new_cap)
            if new_sl_mi == 0:
                if new_pt_mi != 0:
                    nrt_release(new_pt_mi)
                return ST_OOM
    page_mi, page_data = nrt_alloc_aligned(h[H.PAGE_BYTES])
    if page_mi == 0:
        if new_pt_mi != 0:
            nrt_release(new_pt_mi)
        if new_sl_mi != 0:
            nrt_release(new_sl_mi)
        return ST_OOM
    # -- commit ---------------------------------------------------------------------------
    if new_pt_mi != 0:
        mem_zero(new_pt, 16 * new_pt_cap)
        if h[H.PT_MI] != 0:
            mem_copy(new_pt, h[H.PT], 16 * npages)
            nrt_release(h[H.PT_MI])
        h[H.PT], h[H.PT_MI], h[H.PT_CAP] = new_pt, new_pt_mi, new_pt_cap
    if new_sl_mi != 0:
        old_cap = h[H.CAP]
        soff = _gen_offset(new_cap, 4)      # [generations | stack]
        mem_zero(new_sl, 4 * new_cap)
        if h[H.MI] != 0:
            mem_copy(new_sl, h[H.GEN], 4 * old_cap)
            mem_copy(new_sl + soff, h[H.STACK], 4 * h[H.TOP])
            nrt_release(h[H.MI])
        h[H.GEN], h[H.STACK], h[H.MI], h[H.CAP] = new_sl, new_sl + soff, new_sl_mi, new_cap
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
    return ST_OK


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

    Grows once up front under the "grow" policy; ST_FULL (no change) under "error"."""
    h = words(addr)
    n = out.shape[0]
    if h[H.POLICY] == POLICY_CLOSED:
        return ST_CLOSED
    if n > h[H.TOP]:
        if h[H.POLICY] == POLICY_ERROR:
            return ST_FULL
        need = h[H.SLOTS] - h[H.TOP] + n
        want = max(need, min(2 * h[H.CAP], h[H.MAXCAP]))
        if need > h[H.MAXCAP]:
            return ST_FULL
        st = typed_grow(addr, want)
        if st != ST_OK:
            return st
    for j in range(n):
        out[j] = slot_acquire(addr, 0) & SLOT_MASK
    return ST_OK


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
        if st != ST_OK:
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
    return ST_OK, -1


@njit(cache=True)
def py_acquire_many(addr, out):
    return acquire_many_into(addr, out)


@njit(cache=True)
def py_release_many(addr, keys):
    return release_many_keys(addr, keys)
