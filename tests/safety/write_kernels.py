"""The njit side of ``test_njit_writes.py``: write shapes and kernels, generic over dtype and
ndim (numba compiles one specialisation per dtype; no Python function is made per case).

Every write here is the last use of its view variable right after one of framealloc's inlined
calls: the shape numba's dead-code elimination deleted (numba issue 10041, see
``framealloc/kernels/aliasing.py``). In a module of their own so that editing the tests does
not invalidate numba's cache of these kernels.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload

REC = np.dtype([("x", "f8"), ("k", "i4")], align=True)

# write shapes (the write is the last use of the view variable)
W_IDX, W_SLICE, W_ALL, W_IADD, W_IDX2, W_ROW = range(6)
# API calls interleaved with the writes (each one an inline="always" overload)
WRITE, ACQUIRE, RELEASE, PUSH, POP, VIA_CALL, INSERT, REMOVE, SETITEM = range(10, 19)

N = 8          # elements of a frame/scratch region, pool capacity, FrameVec capacity
K = 3          # columns of 2-D views
S = 12         # rows of the source array


# ---------------------------------------------------------------------------------------------
# njit: the write shapes, and the kernels (few, generic over dtype and ndim by numba's dispatch)

def _write(d, w, a, b, c, src):
    """Write shape ``w`` (not ``d[i] = v``, which the kernels spell out) of ``src`` into ``d``."""


@intrinsic
def _some(typingctx, x):
    """An Optional array (from a try_ method, checked for None) as the array."""
    if isinstance(x, types.Optional):
        def codegen(context, builder, sig, args):
            val = context.cast(builder, args[0], sig.args[0], sig.return_type)
            return impl_ret_borrowed(context, builder, sig.return_type, val)
        return x.type(x), codegen


@overload(_write, inline="always")
def _ol_write(d, w, a, b, c, src):
    if isinstance(d, types.Optional):
        def impl_opt(d, w, a, b, c, src):
            _write(_some(d), w, a, b, c, src)
        return impl_opt
    numeric = isinstance(d.dtype, types.Number)
    if d.ndim == 0:
        if numeric:
            def impl0n(d, w, a, b, c, src):
                if w == W_IADD:
                    d += src[b]
                else:
                    d[()] = src[b]
            return impl0n

        def impl0(d, w, a, b, c, src):
            d[()] = src[b]
        return impl0
    if d.ndim == 1:
        if numeric:
            def impl1n(d, w, a, b, c, src):
                if w == W_SLICE:
                    d[a:a + 1] = src[b:b + 1]
                elif w == W_ALL:
                    d[:] = src[b]
                else:
                    d += src[b]
            return impl1n

        def impl1(d, w, a, b, c, src):
            if w == W_SLICE:
                d[a:a + 1] = src[b:b + 1]
            else:
                d[:] = src[b]
        return impl1
    if numeric:
        def impl2n(d, w, a, b, c, src):
            if w == W_SLICE:
                d[a:a + 1] = src[b:b + 1]
            elif w == W_ALL:
                d[:] = src[b]
            elif w == W_IADD:
                d += src[b]
            elif w == W_IDX2:
                d[a, c] = src[b, c]
            else:
                d[a][c] = src[b][c]
        return impl2n

    def impl2(d, w, a, b, c, src):
        if w == W_SLICE:
            d[a:a + 1] = src[b:b + 1]
        elif w == W_ALL:
            d[:] = src[b]
        elif w == W_IDX2:
            d[a, c] = src[b, c]
        else:
            d[a][c] = src[b][c]
    return impl2


@njit(cache=True)
def ident(x):
    """A user's helper returning its argument: numba takes its result for fresh memory."""
    return x


# Frame methods: the kernels branch on the index in this tuple.
FRAME_METHODS = ("frame_array", "frame_zeros", "try_frame_array", "try_frame_zeros",
                 "frame_slice", "try_frame_slice", "frame_alloc_batch", "try_frame_alloc_batch",
                 "frame_alloc_2", "frame_alloc_4", "frame_alloc_8", "try_frame_alloc_2",
                 "try_frame_alloc_4", "try_frame_alloc_8", "frame_box", "frame_alloc",
                 "try_frame_alloc")
FRAME_ND_METHODS = ("frame_array", "frame_zeros", "try_frame_array", "try_frame_zeros",
                    "frame_box")
SCRATCH_METHODS = ("scratch_array", "scratch_zeros", "try_scratch_array", "try_scratch_zeros")


@njit(cache=True)
def k_frame(alloc, ops, src, n, dt, box):
    """Each op: checkpoint, allocate with method ops[r, 0], one write, roll back (the next op
    lands on the same memory). The 1-D methods merge into one variable (Optional when a try_
    form is in the mix) written once: fewer copies of the write code to compile. ``box`` is
    what frame_box boxes (None: numba prunes that branch)."""
    for r in range(ops.shape[0]):
        m, w, a, b, c = ops[r, 0], ops[r, 1], ops[r, 2], ops[r, 3], ops[r, 4]
        cp = alloc.frame_checkpoint()
        if m < 14:
            if m == 0:
                d = alloc.frame_array(n, dt)
            elif m == 1:
                d = alloc.frame_zeros(n, dt)
            elif m == 2:
                d = alloc.try_frame_array(n, dt)
            elif m == 3:
                d = alloc.try_frame_zeros(n, dt)
            elif m == 4:
                d = alloc.frame_slice(dt, n)
            elif m == 5:
                d = alloc.try_frame_slice(dt, n)
            elif m == 6:
                d = alloc.frame_alloc_batch(dt, n)
            elif m == 7:
                d = alloc.try_frame_alloc_batch(dt, n)
            elif m == 8:
                d = alloc.frame_alloc_2(dt)
            elif m == 9:
                d = alloc.frame_alloc_4(dt)
            elif m == 10:
                d = alloc.frame_alloc_8(dt)
            elif m == 11:
                d = alloc.try_frame_alloc_2(dt)
            elif m == 12:
                d = alloc.try_frame_alloc_4(dt)
            else:
                d = alloc.try_frame_alloc_8(dt)
            if d is not None:
                if w == W_IDX:
                    d[a] = src[b]
                else:
                    _write(d, w, a, b, c, src)
        elif m == 14:
            if box is not None:
                e = alloc.frame_box(box)
                if w == W_IDX:
                    e[a] = src[b]
                else:
                    _write(e, w, a, b, c, src)
        else:
            if m == 15:
                s = alloc.frame_alloc(dt)
            else:
                s = alloc.try_frame_alloc(dt)
            if s is not None:
                _write(s, w, a, b, c, src)
        alloc.rollback_to(cp)


@njit(cache=True)
def k_frame_nd(alloc, ops, src, shape, dt, box):
    """:func:`k_frame` for N-D frame arrays (``shape`` a tuple): the methods taking a shape."""
    for r in range(ops.shape[0]):
        m, w, a, b, c = ops[r, 0], ops[r, 1], ops[r, 2], ops[r, 3], ops[r, 4]
        cp = alloc.frame_checkpoint()
        if m < 4:
            if m == 0:
                d = alloc.frame_array(shape, dt)
            elif m == 1:
                d = alloc.frame_zeros(shape, dt)
            elif m == 2:
                d = alloc.try_frame_array(shape, dt)
            else:
                d = alloc.try_frame_zeros(shape, dt)
            if d is not None:
                if w == W_IDX:
                    d[a] = src[b]
                else:
                    _write(d, w, a, b, c, src)
        elif box is not None:
            e = alloc.frame_box(box)
            if w == W_IDX:
                e[a] = src[b]
            else:
                _write(e, w, a, b, c, src)
        alloc.rollback_to(cp)


@njit(cache=True)
def r_frame(alloc, shape, dt):
    """Second reader: the memory the writes went to, allocated again inside njit."""
    cp = alloc.frame_checkpoint()
    out = alloc.frame_array(shape, dt).copy()
    alloc.rollback_to(cp)
    return out


@njit(cache=True)
def k_scratch(alloc, sid, ops, src, shape, dt):
    """Each op: reset the scratch pool, allocate with method ops[r, 0], one write."""
    for r in range(ops.shape[0]):
        m, w, a, b, c = ops[r, 0], ops[r, 1], ops[r, 2], ops[r, 3], ops[r, 4]
        alloc.scratch_reset(sid)
        if m == 0:
            d = alloc.scratch_array(sid, shape, dt)
            if w == W_IDX:
                d[a] = src[b]
            else:
                _write(d, w, a, b, c, src)
        elif m == 1:
            d = alloc.scratch_zeros(sid, shape, dt)
            if w == W_IDX:
                d[a] = src[b]
            else:
                _write(d, w, a, b, c, src)
        elif m == 2:
            t = alloc.try_scratch_array(sid, shape, dt)
            if t is not None:
                if w == W_IDX:
                    t[a] = src[b]
                else:
                    _write(t, w, a, b, c, src)
        else:
            t = alloc.try_scratch_zeros(sid, shape, dt)
            if t is not None:
                if w == W_IDX:
                    t[a] = src[b]
                else:
                    _write(t, w, a, b, c, src)
    return alloc.scratch_used(sid)


@njit(cache=True)
def r_scratch(alloc, sid, shape, dt):
    alloc.scratch_reset(sid)
    return alloc.scratch_array(sid, shape, dt).copy()


@njit(cache=True)
def k_typed(p, ops, src, stack, top):
    """Typed pool: acquire (acquire / try_acquire / acquire_handle), release, write p.data.
    ``stack[:top]`` holds the live slots, kept by the caller across calls (a release in a later
    call gives back a slot an earlier call acquired); returns the new ``top``."""
    for r in range(ops.shape[0]):
        op, w, a, b, c = ops[r, 0], ops[r, 1], ops[r, 2], ops[r, 3], ops[r, 4]
        if op == ACQUIRE:
            if c == 0:
                stack[top] = p.acquire()
            elif c == 1:
                h = p.try_acquire()
                if h is not None:
                    stack[top] = h
            else:
                stack[top] = p.acquire_handle()
            top += 1
        elif op == RELEASE:
            top -= 1
            p.release(stack[top])
        elif w == W_IDX:
            d = p.data
            d[a] = src[b]
        else:
            d = p.data
            _write(d, w, a, b, c, src)
    return top


@njit(cache=True)
def r_typed(p):
    return p.data.copy()


@njit(cache=True)
def k_classes(pools, keys0, ops, src, dt, count, nbytes):
    """Size-class pools, live slots ``keys0`` (oldest first): acquire (each new slot's view set
    to src[0]), release the newest, write the view of the c-th newest live slot."""
    keys = np.zeros(len(keys0) + ops.shape[0], np.int64)
    keys[:len(keys0)] = keys0
    top = len(keys0)
    for r in range(ops.shape[0]):
        op, w, a, b, c = ops[r, 0], ops[r, 1], ops[r, 2], ops[r, 3], ops[r, 4]
        if op == ACQUIRE:
            k = pools.acquire(nbytes)
            keys[top] = k
            top += 1
            z = pools.view(k, dt, count)
            z[:] = src[0]
        elif op == RELEASE:
            top -= 1
            pools.release(keys[top])
        elif w == W_IDX:
            d = pools.view(keys[top - 1 - c], dt, count)
            d[a] = src[b]
        else:
            d = pools.view(keys[top - 1 - c], dt, count)
            _write(d, w, a, b, c, src)
    return keys[:top].copy()


@njit(cache=True)
def r_classes(pools, keys, dt, count):
    out = np.empty((len(keys), count), dt)
    for i in range(len(keys)):
        out[i] = pools.view(keys[i], dt, count)
    return out


@njit(cache=True)
def k_vec(v, ops, src):
    """FrameVec: push / try_push, pop / try_pop, write v.as_array(), w = ident(v); w[i] = x."""
    for r in range(ops.shape[0]):
        op, w, a, b, c = ops[r, 0], ops[r, 1], ops[r, 2], ops[r, 3], ops[r, 4]
        if op == PUSH:
            if c == 0:
                v.push(src[b])
            else:
                v.try_push(src[b])
        elif op == POP:
            if c == 0:
                v.pop()
            else:
                v.try_pop()
        elif op == VIA_CALL:
            u = ident(v)
            u[a] = src[b]
        elif w == W_IDX:
            d = v.as_array()
            d[a] = src[b]
        else:
            d = v.as_array()
            _write(d, w, a, b, c, src)
    return len(v)


@njit(cache=True)
def r_vec(v):
    return v.as_array().copy()


@njit(cache=True)
def k_map(m, ops, src):
    """FrameMap: insert / try_insert, remove / try_remove, m[k] = x, w = ident(m); w[k] = x."""
    for r in range(ops.shape[0]):
        op, a, b, c = ops[r, 0], ops[r, 2], ops[r, 3], ops[r, 4]
        if op == INSERT:
            if c == 0:
                m.insert(a, src[b])
            else:
                m.try_insert(a, src[b])
        elif op == REMOVE:
            if c == 0:
                m.remove(a)
            else:
                m.try_remove(a)
        elif op == SETITEM:
            m[a] = src[b]
        else:
            u = ident(m)
            u[a] = src[b]
    return len(m)


@njit(cache=True)
def r_map(m, keys, out):
    for i in range(len(keys)):
        out[i] = m[keys[i]]


@njit(cache=True)
def k_layout(alloc, s, ops, sf, sr, sg):
    """Frame-layout views (made in Python, passed in as their named tuple)."""
    for r in range(ops.shape[0]):
        op, w, a, b, c = ops[r, 0], ops[r, 1], ops[r, 2], ops[r, 3], ops[r, 4]
        if op != WRITE:
            alloc.frame_bytes()
        elif a >= 100:                         # field g (2-D), row a - 100
            d = s.g
            if w == W_IDX:
                d[a - 100] = sg[b]
            else:
                _write(d, w, a - 100, b, c, sg)
        elif c == 0:
            d = s.f
            if w == W_IDX:
                d[a] = sf[b]
            else:
                _write(d, w, a, b, c, sf)
        else:
            d = s.r
            if w == W_IDX:
                d[a] = sr[b]
            else:
                _write(d, w, a, b, c, sr)


@njit(cache=True)
def r_layout(s):
    return s.f.copy(), s.r.copy(), s.g.copy()


@njit(cache=True)
def k_copies(alloc, p, m, i, j):
    """Arrays that are fresh copies (and collections made in njit), written after they escaped
    into a tuple: numba loses those writes too (the tuple is live, the array variable is not)."""
    d1 = p.acquire_many(3)
    t1 = (d1, 0)
    d1[i] = 99
    d2 = p.live_indices()
    t2 = (d2, 0)
    d2[i] = 98
    d3 = p.alive
    t3 = (d3, 0)
    d3[j] = True
    d4 = m.keys()
    t4 = (d4, 0)
    d4[i] = 97
    d5 = m.values()
    t5 = (d5, 0)
    d5[i] = 96.0
    k6, v6 = m.items()
    t6 = (k6, v6)
    k6[i] = 95
    v6[i] = 94.0
    v = alloc.frame_vec(np.float64, 4)
    v.push(1.0)
    v.push(2.0)
    u = ident(v)
    u[i] = 42.0
    d7 = v.as_array()
    t7 = (d7, 0)
    d7[1 - i] = 43.0
    mm = alloc.frame_map(np.int64, np.float64, 4)
    mm.insert(5, 1.0)
    w = ident(mm)
    w[6] = 41.0
    tv = alloc.try_frame_vec(np.float64, 4)
    tm = alloc.try_frame_map(np.int64, np.float64, 4)
    if tv is not None and tm is not None:
        tv.push(0.0)
        u2 = ident(tv)
        u2[0] = 40.0
        w2 = ident(tm)
        w2[7] = 39.0
    return t1, t2, t3, t4, t5, t6, t7, v, mm, tv, tm


# ---------------------------------------------------------------------------------------------
# The general numba case: a user's function returning its argument

@njit(cache=True)
def g_inline(p, x, y, n):
    """Next to one of our inline methods (p.capacity): ``d = ident(x); d[i] = v`` and
    ``e = ident(y); e += v``; a fresh array written after it escaped into a tuple."""
    for i in range(n):
        c = p.capacity
        d = ident(x)
        d[i] = i + c
    e = ident(y)
    e += p.capacity
    f = np.zeros(n)
    t = (f, 0)
    f[n - 1] = 7.0
    return t


@njit(parallel=True, cache=True)
def g_parallel(x, y, z, n):
    """parallel=True, no framealloc call at all: writes through ident() outside and inside a
    prange body, and an in-place add."""
    d = ident(x)
    for i in prange(n):
        d[i] = i + 1.0
    for i in prange(n):
        e = ident(y)
        e[i] = 2.0 * i
    f = ident(z)
    f += 3.0


@njit(parallel=True, cache=True)
def g_parallel_pool(p, n):
    """Our view inside a prange body."""
    for i in prange(n):
        d = p.data
        d[i] = i + 0.5


# ---------------------------------------------------------------------------------------------
# The creation methods (kernels/creation_njit.py): each result written once, as its last use

#: the methods, in the order of k_creation's ops (each allocates N float64 elements first)
CREATION_METHODS = ("frame_empty_like", "frame_zeros_like", "frame_full", "frame_full_like",
                    "frame_copy", "frame_arange", "frame_concatenate", "frame_stack",
                    "frame_take", "frame_compress", "frame_nonzero", "frame_where",
                    "frame_eval")


@njit(cache=True)
def plus_half(x):
    """A scalar function for frame_eval (kernels/expressions_njit.py)."""
    return x + 0.5


@njit(cache=True)
def k_creation(alloc, m, i, v, x, idx, mask):
    """Method ``m`` (an index into CREATION_METHODS, ``try_`` forms at m + 100) makes an array
    at the frame's current point; ``d[i] = v`` is its last use. Returns the memory read again."""
    cp = alloc.frame_checkpoint()
    if m == 0:
        d = alloc.frame_empty_like(x)
        d[i] = v
    elif m == 1:
        d = alloc.frame_zeros_like(x)
        d[i] = v
    elif m == 2:
        d = alloc.frame_full(N, 0.0)
        d[i] = v
    elif m == 3:
        d = alloc.frame_full_like(x, 0.0)
        d[i] = v
    elif m == 4:
        d = alloc.frame_copy(x)
        d[i] = v
    elif m == 5:
        d = alloc.frame_arange(0.0, N)
        d[i] = v
    elif m == 6:
        d = alloc.frame_concatenate((x[:3], x[3:]))
        d[i] = v
    elif m == 7:
        d2 = alloc.frame_stack((x,))
        d2[0, i] = v
    elif m == 8:
        d = alloc.frame_take(x, idx)
        d[i] = v
    elif m == 9:
        d = alloc.frame_compress(mask, x)
        d[i] = v
    elif m == 10:
        t0 = alloc.frame_nonzero(x)
        d3 = t0[0]
        d3[i] = 7
    elif m == 11:
        t1 = alloc.frame_where(x)
        d3 = t1[0]
        d3[i] = 7
    elif m == 12:
        d = alloc.frame_eval(plus_half, x)
        d[i] = v
    elif m == 100:
        d = alloc.try_frame_empty_like(x)
        d[i] = v
    elif m == 101:
        d = alloc.try_frame_zeros_like(x)
        d[i] = v
    elif m == 102:
        d = alloc.try_frame_full(N, 0.0)
        d[i] = v
    elif m == 103:
        d = alloc.try_frame_full_like(x, 0.0)
        d[i] = v
    elif m == 104:
        d = alloc.try_frame_copy(x)
        d[i] = v
    elif m == 105:
        d = alloc.try_frame_arange(0.0, N)
        d[i] = v
    elif m == 106:
        d = alloc.try_frame_concatenate((x[:3], x[3:]))
        d[i] = v
    elif m == 107:
        d2 = alloc.try_frame_stack((x,))
        d2[0, i] = v
    elif m == 108:
        d = alloc.try_frame_take(x, idx)
        d[i] = v
    elif m == 109:
        d = alloc.try_frame_compress(mask, x)
        d[i] = v
    elif m == 112:
        d = alloc.try_frame_eval(plus_half, x)
        d[i] = v
    alloc.rollback_to(cp)
    r = alloc.frame_array(N, np.float64)
    return r.copy(), r.view(np.int64).copy()
