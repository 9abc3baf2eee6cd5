"""Transparent frames, the native half: numba's array allocator, redirected to frame chunks.

Every array that compiled numba code creates (``np.empty``, ``np.zeros_like``, the result of
``a - b``, ``np.array``, ``.copy()``, a reduction's temporary) is allocated by one C function of
numba's runtime, ``NRT_MemInfo_alloc_aligned(size, align)``: ``numba.np.arrayobj`` lowers
``types.Array._allocate`` to ``context.nrt.meminfo_alloc_aligned``, which emits a call to that
symbol, and numba's JIT resolves the symbol through llvmlite's symbol table when it links (or
loads from its cache) each compiled function.

:func:`install` points that symbol at ``framealloc_tp_alloc_aligned``, LLVM code built here once
per process. It decides per call:

* no thread registered (``fa.transparent`` never entered, or exited everywhere): a jump to the
  original function, nothing else;
* the calling thread (its id from the thread pointer, or ``pthread_self``) is in the table, its
  allocator's arena row has a frame open, the request is at most the thread's threshold: carve
  the meminfo and the data from the thread's current **chunk** and return it; otherwise the
  original function.

The meminfo is numba's own (``NRT_MemInfo_alloc_external``, reached through ``NRT_get_api()``,
or the same six words written here when NRT statistics are off), with an external allocator
whose ``free`` is ours: numba's refcounting decides when an array dies, and its last release
calls our ``free``, on whatever thread drops it.

Safety rests on two things per chunk and one per block:

* ``live`` (atomic) starts at :data:`BIAS`; frees from other threads take one each. The owner
  counts its allocations (``nalloc``, in its row) and its own frees (in the chunk header) without
  atomics; only the owner reads them and only it flips ``current``. Nothing carved from the
  chunk is alive exactly when ``live == BIAS - (nalloc - own frees)``: the owner then rewinds the
  chunk to its start;
* blocks form a stack; a free marks its block ``dead`` (a release store) and the owner pops dead
  blocks off the top before it allocates, so temporaries that die above a long-lived array
  reuse their memory;
* a chunk that is full while blocks in it live is *retired*: ``current`` goes to 0 (from then
  on every free is atomic), the owner takes ``BIAS - (nalloc - own frees)`` from ``live``, which
  leaves the live blocks, and takes a fresh chunk; the free that takes ``live`` to 0 returns
  the chunk to ``malloc``;
* an array that outlives its frame (returned to Python, stored, captured) keeps its block:
  nothing under it is reused while it lives. Frames decide only *when* compiled code allocates
  here (while the thread's frame is open), never when memory is reused.

State: one table of 256-byte records (:data:`HEADER_DTYPE` in row 0, :data:`THREAD_DTYPE` for
each registered thread), allocated once per process and never freed, because meminfos point at
their thread's external-allocator record (``ext_*`` words) for as long as they live.
"""
from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
import platform
import sys

import numpy as np

__all__ = ["HEADER_DTYPE", "THREAD_DTYPE", "CHUNK_HEADER", "MAX_THREADS", "Native", "build",
           "install", "check_internals"]

#: Threads that can be registered at once (table rows after the header).
MAX_THREADS = 64
#: Bytes at the start of a chunk; its words: ``live`` (atomic: BIAS minus the frees of other
#: threads while the chunk is current, then the live blocks), ``size``, the owner's own frees
#: while current (plain), the owner's thread id, ``current`` (1 while the owner bumps in it).
CHUNK_HEADER = 64
C_OWNER_FREES, C_OWNER, C_CURRENT = 2, 3, 4
#: The thread pointer holds pthread_self() on x86-64 glibc (checked at install).
FAST_SELF_OK = os.name == "posix" and sys.platform.startswith("linux") and \
    platform.machine() in ("x86_64", "AMD64")
ROW_BYTES = 256
#: Bytes before each block's meminfo: the chunk's address, the cursor before the block, the
#: header of the block below it (the owner's stack), and ``dead`` (set by the block's free, on
#: any thread). The owner pops dead blocks off the top before it allocates, so temporaries that
#: die above a long-lived array are reused while that array lives. Then the debug stamp: the
#: address of the allocator's ``ORG_ROW.tp_freed`` word (0: not a debug allocator's block) and
#: the frame number (31 bits) the block was served in; its free counts itself there while that
#: frame is the one the word counts (see ``kernels.arena.transparent_alive``).
BLOCK_HEADER = 48
B_STAMP, B_FRAME = 4, 5
#: The frame numbers stamped (31 bits) and where they sit in ``ORG_ROW.tp_freed`` (the frees
#: below, as ``kernels.arena.TP_FREED_BITS``).
FRAME_MASK = 0x7FFFFFFF
TP_FREED_BITS = 32
#: A current chunk's ``live`` word starts at BIAS and each free takes one: the owner counts its
#: allocations privately (``nalloc``, no atomic on the allocation path), so nothing is live when
#: ``live == BIAS - nalloc``; retiring takes ``BIAS - nalloc``, which leaves the live count.
BIAS = 1 << 62
#: Bytes before the data of each block NumPy's handler returns: its size (``realloc`` copies
#: that much) and its kind (1: carved from a chunk, a block header before it; 0: libc's
#: ``malloc``/``calloc`` returned the prefix). 16 keeps libc's 16-byte alignment of the data.
NP_PREFIX = 16


def _record(*fields) -> np.dtype:
    """int64 fields in order, padded to one 256-byte row."""
    names = [name for name, _ in fields]
    return np.dtype({"names": names, "formats": [np.int64] * len(names),
                     "offsets": [8 * i for i in range(len(names))], "itemsize": ROW_BYTES})


#: Row 0 of the table: what the hook needs from the process and counters over every thread.
HEADER = (
    ("nslots", "rows in use after the header (a high-water mark; a free row has ident 0)"),
    ("orig", "address of numba's NRT_MemInfo_alloc_aligned (every fallback jumps there)"),
    ("alloc_external", "address of numba's NRT_MemInfo_alloc_external"),
    ("chunks_live", "chunks allocated and not yet returned to malloc (atomic)"),
    ("chunk_bytes", "bytes of those chunks (atomic)"),
    ("chunks_total", "chunks ever allocated (atomic)"),
    ("exact", "1: meminfos are made by NRT_MemInfo_alloc_external (NRT statistics stay exact); "
              "0: the hook fills the meminfo itself (NRT statistics were off at install)"),
    ("charge", "address of charge(arena row, bytes) -> 1 (charged) or 0 (a hard budget "
               "refuses): the cfunc over kernels.org.charge_transparent, for tagged or "
               "budgeted rows (0: not compiled yet; no thread is registered until it is)"),
)
#: One registered thread (rows 1..MAX_THREADS).
THREAD = (
    ("ident", "the thread's ident (threading.get_ident()); 0: row free"),
    ("row", "address of frame_open in the allocator's arena row of this thread"),
    ("chunk", "address of the current chunk (0: none yet)"),
    ("cursor", "address of the next free byte in the current chunk"),
    ("end", "address one past the current chunk"),
    ("pending", "block reserved for the malloc callback that follows"),
    ("threshold", "largest request (bytes) served from chunks; larger ones go to the NRT"),
    ("chunk_size", "bytes of a new chunk (more when one request needs more)"),
    ("served", "allocations served from chunks"),
    ("served_bytes", "bytes of those"),
    ("large", "requests above the threshold or page-aligned (framealloc's own buffers; sent to "
              "the NRT)"),
    ("outside", "requests while no frame was open (sent to the NRT)"),
    ("chunks_new", "chunks this thread allocated"),
    ("rewinds", "times the cursor went back to the start of a chunk with nothing live"),
    ("retired_live", "chunks retired while allocations in them were alive"),
    ("nomem", "chunk allocations that failed (the request went to the NRT or libc)"),
    ("numpy", "of `served`, the allocations NumPy's handler made (NEP 49)"),
    ("over_budget", "requests a hard budget refused (sent to the NRT or libc)"),
    ("nalloc", "allocations carved from the current chunk (the owner's count, see BIAS)"),
    ("top", "header address of the newest block of the current chunk (0: none)"),
    ("ext_malloc", "NRT_ExternalAllocator.malloc (these four words are the struct)"),
    ("ext_realloc", "NRT_ExternalAllocator.realloc"),
    ("ext_free", "NRT_ExternalAllocator.free"),
    ("ext_opaque", "NRT_ExternalAllocator.opaque_data: this row's address"),
    ("debug", "1: the allocator of `row` is in debug mode (blocks are stamped, see BLOCK_HEADER)"),
)
HEADER_DTYPE = _record(*HEADER)
THREAD_DTYPE = _record(*THREAD)
HW = {name: i for i, (name, _) in enumerate(HEADER)}
TW = {name: i for i, (name, _) in enumerate(THREAD)}
assert HEADER_DTYPE.itemsize == THREAD_DTYPE.itemsize == ROW_BYTES


class Native:
    """The compiled hook and its table (one per process, never freed)."""

    def __init__(self, library, table: np.ndarray, meminfo_size: int):
        self.library = library          # keeps the machine code alive
        self.table = table              # raw int64 words, (1 + MAX_THREADS) rows of 32
        self.addr = table.ctypes.data
        self.meminfo_size = meminfo_size
        get = library.get_pointer_to_function
        self.hook = get("framealloc_tp_alloc_aligned")
        self.malloc_cb = get("framealloc_tp_malloc")
        self.realloc_cb = get("framealloc_tp_realloc")
        self.free_cb = get("framealloc_tp_free")
        self.np_funcs = tuple(get(f"framealloc_np_{name}")
                              for name in ("malloc", "calloc", "realloc", "free"))
        self.retire = ctypes.CFUNCTYPE(None, ctypes.c_int64)(get("framealloc_tp_retire"))
        self.self_id = ctypes.CFUNCTYPE(ctypes.c_int64)(get("framealloc_tp_self"))
        self.header = table[0].view(HEADER_DTYPE)
        self.threads = table[1:].view(THREAD_DTYPE).reshape(-1)
        self.words = table[1:]                # the same rows as int64 words (TW indices)
        self.row_addr = [int(a) for a in self.addr + ROW_BYTES * np.arange(1, 1 + MAX_THREADS)]
        self.free_rows: list[int] = []      # thread rows given back (framealloc.transparent)
        self.numpy: NumpyHandler | None = None   # NumPy's handler (install_numpy)
        self.numpy_refused: str | None = None    # why it is not available


def new_table() -> np.ndarray:
    """A zeroed, 256-byte-aligned table of ``1 + MAX_THREADS`` rows (int64 words)."""
    words = ROW_BYTES // 8
    raw = np.zeros((2 + MAX_THREADS) * words, np.int64)
    skip = (-raw.ctypes.data % ROW_BYTES) // 8
    table = raw[skip:skip + (1 + MAX_THREADS) * words].reshape(1 + MAX_THREADS, words)
    assert table.ctypes.data % ROW_BYTES == 0 and table.base is not None
    return table


def build(table: np.ndarray, meminfo_size: int, fast_self: bool = True):
    """Compile the hook, the external allocator's callbacks and ``retire`` over ``table``.

    ``meminfo_size`` is ``sizeof(NRT_MemInfo)``, measured by the install probe: the data of a
    meminfo made by ``NRT_MemInfo_alloc_external`` starts that many bytes after the block our
    malloc callback returns, so the block is placed to align the data.

    ``fast_self``: read the calling thread's id from the thread pointer (x86-64 glibc, where
    ``pthread_self()`` is ``%fs:16``) instead of calling ``pthread_self``; the install checks
    the result against ``threading.get_ident()`` and builds again without it if they differ.
    """
    from llvmlite import ir
    from numba.core import cgutils
    from numba.core.registry import cpu_target

    from .layout import CHUNK_ALIGN as PAGE_ALIGN
    from .layout import NO_LIMIT, RB_CLOSED, RB_HDR, RB_TP_BYTES, RB_TP_COUNT, RB_TP_FREED, F

    i8p = ir.IntType(8).as_pointer()
    i64, i32, i1 = ir.IntType(64), ir.IntType(32), ir.IntType(1)
    c = lambda v: ir.Constant(i64, v)           # noqa: E731
    mod = ir.Module(name="framealloc_transparent")
    base = table.ctypes.data
    S = meminfo_size

    def word(b, addr, index):
        return b.inttoptr(b.add(addr, c(8 * index)) if index else addr, i64.as_pointer())

    def hdr(b, name):
        return b.inttoptr(c(base + 8 * HW[name]), i64.as_pointer())

    def ld(b, addr, index):
        return b.load(word(b, addr, index))

    def st(b, value, addr, index):
        b.store(value, word(b, addr, index))

    def bump(b, addr, index, by=1):
        p = word(b, addr, index)
        b.store(b.add(b.load(p), by if isinstance(by, ir.Value) else c(by)), p)

    malloc = ir.Function(mod, ir.FunctionType(i8p, [i64]), "malloc")
    free = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i8p]), "free")
    ulong = ir.IntType(8 * ctypes.sizeof(ctypes.c_ulong))
    # threading.get_ident() is pthread_self() on POSIX; PyThread_get_thread_ident elsewhere.
    get_ident = ir.Function(mod, ir.FunctionType(ulong, []),
                            "pthread_self" if os.name == "posix" else "PyThread_get_thread_ident")
    orig_ty = ir.FunctionType(i8p, [i64, i32])
    charge_ty = ir.FunctionType(i64, [i64, i64])
    ext_ty = ir.FunctionType(i8p, [i64, i8p])
    fast_self = fast_self and FAST_SELF_OK
    if fast_self:
        from llvmlite import binding as ll
        try:
            ll.initialize_native_asmparser()    # inline assembly needs it (LLVM aborts without)
        except Exception:                       # noqa: BLE001 - then call pthread_self
            fast_self = False
    self_asm = ir.InlineAsm(ir.FunctionType(i64, []), "movq %fs:16, $0", "=r")

    def self_id(b):
        """The calling thread's id, as threading.get_ident() gives it."""
        if fast_self:
            return b.call(self_asm, [])
        ident = b.call(get_ident, [])
        return b.zext(ident, i64) if ulong.width < 64 else ident

    probe_self = ir.Function(mod, ir.FunctionType(i64, []), "framealloc_tp_self")
    b = ir.IRBuilder(probe_self.append_basic_block("entry"))
    b.ret(self_id(b))

    def release_chunk(b, chunk, by):
        """Take ``by`` from the chunk's ``live``; whoever takes it to 0 frees the chunk."""
        old = b.atomic_rmw("sub", word(b, chunk, 0), by, "acq_rel")
        with b.if_then(b.icmp_signed("==", old, by)):
            size = ld(b, chunk, 1)
            b.atomic_rmw("sub", hdr(b, "chunks_live"), c(1), "monotonic")
            b.atomic_rmw("sub", hdr(b, "chunk_bytes"), size, "monotonic")
            b.call(free, [b.inttoptr(chunk, i8p)])
        return old

    # -- retire(entry): the owner lets go of its current chunk -------------------------------
    retire = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i64]), "framealloc_tp_retire")
    retire.linkage = "external"
    b = ir.IRBuilder(retire.append_basic_block("entry"))
    e = retire.args[0]
    chunk = ld(b, e, TW["chunk"])
    with b.if_then(b.icmp_signed("!=", chunk, c(0))):
        # live = BIAS - foreign frees; taking BIAS - (nalloc - owner frees) leaves the live
        # allocations. From now on every free, the owner's too, is atomic.
        st(b, c(0), chunk, C_CURRENT)
        by = b.sub(c(BIAS), b.sub(ld(b, e, TW["nalloc"]), ld(b, chunk, C_OWNER_FREES)))
        old = release_chunk(b, chunk, by)
        with b.if_then(b.icmp_signed("!=", old, by)):
            bump(b, e, TW["retired_live"])
        st(b, c(0), e, TW["chunk"])
        st(b, c(0), e, TW["top"])
        st(b, c(0), e, TW["cursor"])
        st(b, c(0), e, TW["end"])
    b.ret_void()

    # -- refill(entry, need): retire the current chunk, take one of max(chunk_size, need) ----
    refill = ir.Function(mod, ir.FunctionType(i1, [i64, i64]), "framealloc_tp_refill")
    refill.linkage = "internal"
    b = ir.IRBuilder(refill.append_basic_block("entry"))
    e, need = refill.args
    b.call(retire, [e])
    csize = ld(b, e, TW["chunk_size"])
    csize = b.select(b.icmp_signed(">", need, csize), need, csize)
    p = b.call(malloc, [csize])
    with b.if_then(cgutils.is_null(b, p), likely=False):
        bump(b, e, TW["nomem"])
        b.ret(ir.Constant(i1, 0))
    chunk = b.ptrtoint(p, i64)
    st(b, c(BIAS), chunk, 0)           # live: BIAS - foreign frees while it is current
    st(b, c(0), chunk, C_OWNER_FREES)
    st(b, self_id(b), chunk, C_OWNER)
    st(b, c(1), chunk, C_CURRENT)
    st(b, c(0), e, TW["nalloc"])
    st(b, c(0), e, TW["top"])
    st(b, csize, chunk, 1)
    st(b, chunk, e, TW["chunk"])
    st(b, b.add(chunk, c(CHUNK_HEADER)), e, TW["cursor"])
    st(b, b.add(chunk, csize), e, TW["end"])
    bump(b, e, TW["chunks_new"])
    b.atomic_rmw("add", hdr(b, "chunks_live"), c(1), "monotonic")
    b.atomic_rmw("add", hdr(b, "chunk_bytes"), csize, "monotonic")
    b.atomic_rmw("add", hdr(b, "chunks_total"), c(1), "monotonic")
    b.ret(ir.Constant(i1, 1))

    # -- the hooks -----------------------------------------------------------------------------
    # numba's hook is three functions, so that each path saves only the registers it needs:
    # the hook (no thread registered: one load, a jump to numba's function), the lookup (a
    # registered thread: find its row, check frame and size) and the bump (serve the request
    # from the chunk). NumPy's handler (NEP 49) gets the same lookup and bump, built a second
    # time with its own block prefix (size, kind) and its own fallback (null: libc instead).
    def to_numba(b, size, align32):
        orig = b.inttoptr(b.load_atomic(hdr(b, "orig"), "monotonic", 8), orig_ty.as_pointer())
        b.ret(b.call(orig, [size, align32], tail=True))

    def to_null(b, size, align32):
        b.ret(ir.Constant(i8p, None))

    def make_paths(tag, S, finish, fallback):
        """Build ``framealloc_tp_{tag}lookup(size, align)``: find the calling thread's row,
        check its frame and threshold, carve ``S`` bytes of prefix plus ``size`` bytes of data
        from its chunk and let ``finish(b, data, blk, size, e)`` return; else ``fallback``."""
        lookup = ir.Function(mod, orig_ty, f"framealloc_tp_{tag}lookup")
        lookup.linkage = "internal"
        lookup.attributes.add("noinline")
        serve_ty = ir.FunctionType(i8p, [i64, i32, i64])
        serve = ir.Function(mod, serve_ty, f"framealloc_tp_{tag}serve")
        serve.linkage = "internal"
        serve.attributes.add("noinline")

        size, align32 = lookup.args
        bb = lookup.append_basic_block
        b = ir.IRBuilder(bb("entry"))
        to_orig = bb("orig")
        nslots = b.load_atomic(hdr(b, "nslots"), "monotonic", 8)
        ident = self_id(b)
        loop, found = bb("loop"), bb("found")
        head = b.block
        b.branch(loop)
        b.position_at_end(loop)
        i = b.phi(i64)
        i.add_incoming(c(0), head)
        entry = b.add(c(base + ROW_BYTES), b.mul(i, c(ROW_BYTES)))
        nxt, nexti = bb("next"), b.add(i, c(1))
        b.cbranch(b.icmp_signed("==", ld(b, entry, TW["ident"]), ident), found, nxt)
        b.position_at_end(nxt)
        i.add_incoming(nexti, nxt)
        b.cbranch(b.icmp_signed("<", nexti, nslots), loop, to_orig)

        b.position_at_end(found)
        e = entry
        is_open = ld(b, ld(b, e, TW["row"]), 0)
        closed_bb, open_bb = bb("closed"), bb("open")
        b.cbranch(b.icmp_signed("==", is_open, c(0)), closed_bb, open_bb)
        b.position_at_end(closed_bb)
        bump(b, e, TW["outside"])
        b.branch(to_orig)

        b.position_at_end(open_bb)
        large_bb, small_bb = bb("large"), bb("small")
        align = b.zext(align32, i64)
        # Page alignment is what framealloc's own buffers ask for (arena chunks, heap
        # fallbacks, pool and scratch storage, kernels.arena.nrt_alloc_aligned): they are not
        # the frame's transparent arrays (a fallback is counted by its own path), so numba
        # makes them, counted as `large`. numba's arrays ask for 32 bytes.
        bad_align = b.or_(b.icmp_unsigned(">=", align, c(PAGE_ALIGN)),
                          b.icmp_unsigned("!=", b.and_(align, b.sub(align, c(1))), c(0)))
        too_big = b.or_(b.icmp_unsigned(">", size, ld(b, e, TW["threshold"])), bad_align)
        b.cbranch(too_big, large_bb, small_bb)
        b.position_at_end(large_bb)
        bump(b, e, TW["large"])
        b.branch(to_orig)

        b.position_at_end(small_bb)
        b.ret(b.call(serve, [size, align32, e], tail=True))
        b.position_at_end(to_orig)
        fallback(b, size, align32)

        size, align32, e = serve.args
        bb = serve.append_basic_block
        b = ir.IRBuilder(bb("entry"))
        to_orig = bb("orig")
        align = b.zext(align32, i64)
        align = b.select(b.icmp_unsigned("<", align, c(16)), c(16), align)
        mask = b.sub(c(0), align)

        def place(b, cursor):
            data = b.and_(b.add(cursor, b.add(c(BLOCK_HEADER + S - 1), align)), mask)
            return data, b.add(data, size)

        chunk = ld(b, e, TW["chunk"])
        have_bb, refill_bb, commit_bb = bb("have"), bb("refill"), bb("commit")
        b.cbranch(b.icmp_signed("==", chunk, c(0)), refill_bb, have_bb)

        b.position_at_end(have_bb)
        live = b.load_atomic(word(b, chunk, 0), "acquire", 8)
        start = b.add(chunk, c(CHUNK_HEADER))
        cur = ld(b, e, TW["cursor"])
        alive = b.sub(ld(b, e, TW["nalloc"]), ld(b, chunk, C_OWNER_FREES))
        idle = b.icmp_signed("==", live, b.sub(c(BIAS), alive))
        with b.if_then(b.and_(idle, b.icmp_signed("!=", cur, start))):
            bump(b, e, TW["rewinds"])
        cursor0 = b.select(idle, start, cur)
        top0 = b.select(idle, c(0), ld(b, e, TW["top"]))
        # Give back the dead blocks on top of the stack (their frees marked them, any thread).
        pop_head = b.block
        pop_bb, pop_body, pop_done = bb("pop"), bb("pop_body"), bb("pop_done")
        b.branch(pop_bb)
        b.position_at_end(pop_bb)
        top = b.phi(i64)
        cursor = b.phi(i64)
        top.add_incoming(top0, pop_head)
        cursor.add_incoming(cursor0, pop_head)
        has_top = b.icmp_signed("!=", top, c(0))
        check_bb = bb("pop_check")
        b.cbranch(has_top, check_bb, pop_done)
        b.position_at_end(check_bb)
        dead = b.load_atomic(word(b, top, 3), "acquire", 8)
        b.cbranch(b.icmp_signed("!=", dead, c(0)), pop_body, pop_done)
        b.position_at_end(pop_body)
        top.add_incoming(ld(b, top, 2), pop_body)
        cursor.add_incoming(ld(b, top, 1), pop_body)
        b.branch(pop_bb)
        b.position_at_end(pop_done)
        st(b, top, e, TW["top"])
        data1, end1 = place(b, cursor)
        fits = b.icmp_unsigned("<=", end1, ld(b, e, TW["end"]))
        have_end = b.block
        b.cbranch(fits, commit_bb, refill_bb)

        b.position_at_end(refill_bb)
        need = b.add(c(CHUNK_HEADER + BLOCK_HEADER + S), b.add(align, size))
        ok = b.call(refill, [e, need])
        got_bb = bb("got")
        b.cbranch(ok, got_bb, to_orig)
        b.position_at_end(got_bb)
        cursor2 = ld(b, e, TW["cursor"])
        data2, end2 = place(b, cursor2)
        b.branch(commit_bb)

        b.position_at_end(commit_bb)
        data = b.phi(i64)
        data.add_incoming(data1, have_end)
        data.add_incoming(data2, got_bb)
        end = b.phi(i64)
        end.add_incoming(end1, have_end)
        end.add_incoming(end2, got_bb)
        begin = b.phi(i64)
        begin.add_incoming(cursor, have_end)
        begin.add_incoming(cursor2, got_bb)
        # The frame's accounting, before anything is committed: an untagged row with no budget
        # over it adds the bytes to the root tag's frame bytes here (as a heap fallback does);
        # otherwise charge() leases budget bytes and attributes the tag, or refuses.
        fo = ld(b, e, TW["row"])                 # the arena row's frame_open word
        tag = ld(b, fo, F.tag - F.frame_open)
        rb = ld(b, fo, F.orgrow - F.frame_open)
        plain = b.and_(b.icmp_signed("==", tag, c(0)),
                       b.icmp_signed("==", ld(b, fo, F.budget_end - F.frame_open), c(NO_LIMIT)))
        inline_bb, charge_bb, refused_bb, counted_bb = (
            bb("plain"), bb("charge"), bb("refused"), bb("counted"))
        b.cbranch(plain, inline_bb, charge_bb)
        b.position_at_end(inline_bb)
        bump(b, rb, RB_HDR, size)
        bump(b, rb, RB_CLOSED)
        b.branch(counted_bb)
        b.position_at_end(charge_bb)
        charge = b.inttoptr(b.load(hdr(b, "charge")), charge_ty.as_pointer())
        ok = b.call(charge, [b.sub(fo, c(8 * F.frame_open)), size])
        b.cbranch(b.icmp_signed("!=", ok, c(0)), counted_bb, refused_bb)
        b.position_at_end(refused_bb)
        bump(b, e, TW["over_budget"])
        b.branch(to_orig)
        b.position_at_end(counted_bb)
        bump(b, rb, RB_TP_COUNT)
        bump(b, rb, RB_TP_BYTES, size)
        chunk = ld(b, e, TW["chunk"])
        blk = b.sub(data, c(S))
        head = b.sub(blk, c(BLOCK_HEADER))
        st(b, chunk, head, 0)                    # the block header (see BLOCK_HEADER)
        st(b, begin, head, 1)
        st(b, ld(b, e, TW["top"]), head, 2)
        st(b, c(0), head, 3)
        st(b, c(0), head, B_STAMP)
        with b.if_then(b.icmp_signed("!=", ld(b, e, TW["debug"]), c(0)), likely=False):
            # Debug mode: stamp the block; the frame's first block starts the frame's count.
            freed = b.add(rb, c(8 * RB_TP_FREED))
            frame = b.and_(ld(b, fo, F.frame_number - F.frame_open), c(FRAME_MASK))
            st(b, freed, head, B_STAMP)
            st(b, frame, head, B_FRAME)
            key = b.shl(frame, c(TP_FREED_BITS))
            w = b.load_atomic(b.inttoptr(freed, i64.as_pointer()), "monotonic", 8)
            with b.if_then(b.icmp_signed("!=", b.ashr(w, c(TP_FREED_BITS)), frame)):
                b.store_atomic(key, b.inttoptr(freed, i64.as_pointer()), "monotonic", 8)
        st(b, head, e, TW["top"])
        st(b, end, e, TW["cursor"])
        bump(b, e, TW["nalloc"])
        bump(b, e, TW["served"])
        bump(b, e, TW["served_bytes"], size)
        finish(b, data, blk, size, e)

        b.position_at_end(to_orig)
        fallback(b, size, align32)
        return lookup

    def numba_finish(b, data, blk, size, e):
        st(b, blk, e, TW["pending"])
        allocator = b.add(e, c(8 * TW["ext_malloc"]))
        exact_bb, inline_bb = b.append_basic_block("exact"), b.append_basic_block("inline")
        b.cbranch(b.icmp_signed("!=", b.load(hdr(b, "exact")), c(0)), exact_bb, inline_bb)
        b.position_at_end(exact_bb)
        ext_alloc = b.inttoptr(b.load(hdr(b, "alloc_external")), ext_ty.as_pointer())
        b.ret(b.call(ext_alloc, [size, b.inttoptr(allocator, i8p)]))
        b.position_at_end(inline_bb)
        # What NRT_MemInfo_init writes (layout checked by the install probe), minus statistics.
        st(b, c(1), blk, 0)                      # refct
        st(b, c(0), blk, 1)                      # dtor
        st(b, c(0), blk, 2)                      # dtor_info
        st(b, data, blk, 3)                      # data
        st(b, size, blk, 4)                      # size
        st(b, allocator, blk, 5)                 # external_allocator
        b.ret(b.inttoptr(blk, i8p))

    def numpy_finish(b, data, blk, size, e):
        st(b, size, blk, 0)                      # NP_PREFIX: the size (realloc copies it) ...
        st(b, c(1), blk, 1)                      # ... and the kind: 1, carved from a chunk
        bump(b, e, TW["numpy"])
        b.ret(b.inttoptr(data, i8p))

    def entry_check(name, lookup, fallback):
        fn = ir.Function(mod, orig_ty, name)
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        to_orig, go = fn.append_basic_block("orig"), fn.append_basic_block("lookup")
        nslots = b.load_atomic(hdr(b, "nslots"), "monotonic", 8)
        b.cbranch(b.icmp_signed("==", nslots, c(0)), to_orig, go)
        b.position_at_end(go)
        b.ret(b.call(lookup, fn.args, tail=True))
        b.position_at_end(to_orig)
        fallback(b, *fn.args)
        return fn

    hook = entry_check("framealloc_tp_alloc_aligned", make_paths("", S, numba_finish, to_numba),
                       to_numba)
    hook.linkage = "external"
    np_chunk = entry_check("framealloc_np_chunk",
                           make_paths("np_", NP_PREFIX, numpy_finish, to_null), to_null)
    np_chunk.linkage = "internal"

    # -- freeing a block (any thread) ---------------------------------------------------------
    free_block = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i64]), "framealloc_tp_unblock")
    free_block.linkage = "internal"
    b = ir.IRBuilder(free_block.append_basic_block("entry"))
    head = free_block.args[0]
    chunk = ld(b, head, 0)                   # read before the block may be reused
    stamp, frame = ld(b, head, B_STAMP), ld(b, head, B_FRAME)
    with b.if_then(b.icmp_signed("!=", stamp, c(0)), likely=False):
        # A debug allocator's block: count the free for its frame while the allocator's word
        # counts that frame (its organisation blocks are kept for the process, see
        # framealloc.transparent), else leave it.
        p = b.inttoptr(stamp, i64.as_pointer())
        head_bb = b.block
        loop_bb, cas_bb, done_bb = (b.append_basic_block("stamp"), b.append_basic_block("cas"),
                                    b.append_basic_block("stamped"))
        w0 = b.load_atomic(p, "monotonic", 8)
        b.branch(loop_bb)
        b.position_at_end(loop_bb)
        w = b.phi(i64)
        w.add_incoming(w0, head_bb)
        b.cbranch(b.icmp_signed("==", b.ashr(w, c(TP_FREED_BITS)), frame), cas_bb, done_bb)
        b.position_at_end(cas_bb)
        res = b.cmpxchg(p, w, b.add(w, c(1)), "acq_rel", "monotonic")
        seen = b.extract_value(res, 0)
        w.add_incoming(seen, cas_bb)
        b.cbranch(b.extract_value(res, 1), done_bb, loop_bb)
        b.position_at_end(done_bb)
    b.store_atomic(c(1), word(b, head, 3), "release", 8)
    # The owner freeing into its current chunk counts without an atomic (only it reads that
    # count, and only it changes `current`); every other free is atomic.
    mine = b.and_(b.icmp_signed("!=", ld(b, chunk, C_CURRENT), c(0)),
                  b.icmp_signed("==", ld(b, chunk, C_OWNER), self_id(b)))
    with b.if_else(mine) as (own, other):
        with own:
            bump(b, chunk, C_OWNER_FREES)
        with other:
            release_chunk(b, chunk, c(1))
    b.ret_void()

    # -- the external allocator's callbacks (numba) ---------------------------------------------
    mcb = ir.Function(mod, ext_ty, "framealloc_tp_malloc")
    b = ir.IRBuilder(mcb.append_basic_block("entry"))
    e = b.ptrtoint(mcb.args[1], i64)
    blk = ld(b, e, TW["pending"])
    st(b, c(0), e, TW["pending"])
    b.ret(b.inttoptr(blk, i8p))       # never 0 here: the hook reserved it before the call

    rcb = ir.Function(mod, ir.FunctionType(i8p, [i8p, i64, i8p]), "framealloc_tp_realloc")
    b = ir.IRBuilder(rcb.append_basic_block("entry"))
    b.ret(ir.Constant(i8p, None))     # numba never reallocates an array's meminfo

    fcb = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i8p, i8p]), "framealloc_tp_free")
    b = ir.IRBuilder(fcb.append_basic_block("entry"))
    b.call(free_block, [b.sub(b.ptrtoint(fcb.args[0], i64), c(BLOCK_HEADER))])
    b.ret_void()

    # -- NumPy's handler (NEP 49): malloc, calloc, realloc, free of PyDataMemAllocator ---------
    # Every block it returns has NP_PREFIX bytes before the data: its size and its kind (1: in
    # a chunk, BLOCK_HEADER more bytes before; 0: from libc's malloc, which returned the prefix).
    calloc_fn = ir.Function(mod, ir.FunctionType(i8p, [i64, i64]), "calloc")
    realloc_fn = ir.Function(mod, ir.FunctionType(i8p, [i8p, i64]), "realloc")
    too_large = c(1 << 62)

    def from_libc(b, p, size):
        """Write the prefix of a libc block ``p`` (not null) and return its data."""
        q = b.ptrtoint(p, i64)
        st(b, size, q, 0)
        st(b, c(0), q, 1)
        return b.inttoptr(b.add(q, c(NP_PREFIX)), i8p)

    def null_if(b, cond):
        with b.if_then(cond, likely=False):
            b.ret(ir.Constant(i8p, None))

    npm = ir.Function(mod, ir.FunctionType(i8p, [i8p, i64]), "framealloc_np_malloc")
    b = ir.IRBuilder(npm.append_basic_block("entry"))
    size = npm.args[1]
    null_if(b, b.icmp_unsigned(">", size, too_large))
    d = b.call(np_chunk, [size, ir.Constant(i32, 16)])
    with b.if_then(b.not_(cgutils.is_null(b, d)), likely=True):
        b.ret(d)
    p = b.call(malloc, [b.add(size, c(NP_PREFIX))])
    null_if(b, cgutils.is_null(b, p))
    b.ret(from_libc(b, p, size))

    npc = ir.Function(mod, ir.FunctionType(i8p, [i8p, i64, i64]), "framealloc_np_calloc")
    b = ir.IRBuilder(npc.append_basic_block("entry"))
    nelem, elsize = npc.args[1:]
    # nelem * elsize must not overflow (nor exceed 2**62): elsize and nelem below 2**31 each,
    # or an exact division check.
    safe_div = b.udiv(too_large, b.select(b.icmp_unsigned("==", elsize, c(0)), c(1), elsize))
    null_if(b, b.icmp_unsigned(">", nelem, safe_div))
    size = b.mul(nelem, elsize)
    d = b.call(np_chunk, [size, ir.Constant(i32, 16)])
    with b.if_then(b.not_(cgutils.is_null(b, d)), likely=True):
        cgutils.memset(b, d, size, 0)
        b.ret(d)
    p = b.call(calloc_fn, [c(1), b.add(size, c(NP_PREFIX))])
    null_if(b, cgutils.is_null(b, p))
    b.ret(from_libc(b, p, size))

    npf = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i8p, i8p, i64]), "framealloc_np_free")
    b = ir.IRBuilder(npf.append_basic_block("entry"))
    ptr = npf.args[1]
    with b.if_then(cgutils.is_null(b, ptr), likely=False):
        b.ret_void()
    q = b.ptrtoint(ptr, i64)
    base_ = b.sub(q, c(NP_PREFIX))
    with b.if_else(b.icmp_signed("==", ld(b, base_, 1), c(0))) as (libc, carved):
        with libc:
            b.call(free, [b.inttoptr(base_, i8p)])
        with carved:
            b.call(free_block, [b.sub(base_, c(BLOCK_HEADER))])
    b.ret_void()

    npr_ty = ir.FunctionType(i8p, [i8p, i8p, i64])
    npr = ir.Function(mod, npr_ty, "framealloc_np_realloc")
    bb = npr.append_basic_block
    b = ir.IRBuilder(bb("entry"))
    ctx, ptr, new = npr.args
    with b.if_then(cgutils.is_null(b, ptr), likely=False):
        b.ret(b.call(npm, [ctx, new]))
    null_if(b, b.icmp_unsigned(">", new, too_large))
    q = b.ptrtoint(ptr, i64)
    base_ = b.sub(q, c(NP_PREFIX))
    old, kind = ld(b, base_, 0), ld(b, base_, 1)
    keep = b.select(b.icmp_unsigned("<", old, new), old, new)
    d = b.call(np_chunk, [new, ir.Constant(i32, 16)])
    with b.if_then(b.not_(cgutils.is_null(b, d))):
        cgutils.raw_memcpy(b, d, ptr, keep, 1)
        b.call(npf, [ctx, ptr, old])
        b.ret(d)
    with b.if_then(b.icmp_signed("==", kind, c(0))):
        p = b.call(realloc_fn, [b.inttoptr(base_, i8p), b.add(new, c(NP_PREFIX))])
        null_if(b, cgutils.is_null(b, p))          # the old block is untouched then
        b.ret(from_libc(b, p, new))
    p = b.call(malloc, [b.add(new, c(NP_PREFIX))])
    null_if(b, cgutils.is_null(b, p))
    out = from_libc(b, p, new)
    cgutils.raw_memcpy(b, out, ptr, keep, 1)
    b.call(free_block, [b.sub(base_, c(BLOCK_HEADER))])
    b.ret(out)

    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        codegen = cpu_target.target_context.codegen()
        library = codegen.create_library("framealloc_transparent")
        library.add_ir_module(mod)
        library.finalize()
    return library


# -- the charge of tagged or budgeted rows ----------------------------------------------------------

_org = None
_charge_cfunc = None


def _charge(ra, nbytes):
    return _org.charge_transparent(ra, nbytes)


def charge_address() -> int:
    """Address of a C function ``int64 charge(int64 arena_row, int64 nbytes)`` over
    :func:`framealloc.kernels.org.charge_transparent` (a numba ``cfunc``, cached on disk), which
    the hook calls for rows that are tagged or under a budget. Compiled once per process."""
    global _org, _charge_cfunc
    if _charge_cfunc is None:
        from numba import cfunc, types

        from . import org
        _org = org
        _charge_cfunc = cfunc(types.int64(types.int64, types.int64), cache=True)(_charge)
    return _charge_cfunc.address


# -- install ---------------------------------------------------------------------------------------

#: numba versions (major.minor) whose internals this hook was checked against.
KNOWN_NUMBA = ("0.68",)
#: The symbol hooked: what ``context.nrt.meminfo_alloc_aligned`` calls (numba.core.runtime.context).
SYMBOL = "NRT_MemInfo_alloc_aligned"


def _source_has(obj, text: str) -> bool:
    import inspect
    try:
        return text in inspect.getsource(obj)
    except (OSError, TypeError):
        return False


def check_internals() -> str | None:
    """Why numba's internals are not the ones the hook knows, or ``None`` if they are."""
    try:
        import numba
        from llvmlite import binding as ll
        from numba.core import config
        from numba.core.runtime import _nrt_python as _nrt
        from numba.core.runtime import context as rctx
        from numba.np import arrayobj
    except ImportError as exc:              # pragma: no cover - numba is a dependency
        return f"numba cannot be imported ({exc})"
    version = ".".join(numba.__version__.split(".")[:2])
    if version not in KNOWN_NUMBA:
        return f"numba {numba.__version__} is not a version it was checked with ({KNOWN_NUMBA})"
    if config.DEBUG_NRT:
        return "NUMBA_DEBUG_NRT is set (arrays are then allocated by another function)"
    api = getattr(rctx, "_NRT_MEMINFO_DEFAULT_API", None)
    if getattr(api, "alloc_aligned", None) != SYMBOL:
        return f"numba's array allocation no longer calls {SYMBOL}"
    if not _source_has(getattr(rctx.NRTContext, "meminfo_alloc_aligned_unchecked", None),
                       "_meminfo_api.alloc_aligned"):
        return "NRTContext.meminfo_alloc_aligned_unchecked changed"
    intrin = getattr(arrayobj, "intrin_alloc", None)
    if not _source_has(getattr(intrin, "_defn", None), "nrt.meminfo_alloc_aligned"):
        return "numba.np.arrayobj.intrin_alloc no longer calls nrt.meminfo_alloc_aligned"
    if not _source_has(getattr(arrayobj, "_empty_nd_impl", None), "_call_allocator"):
        return "numba.np.arrayobj._empty_nd_impl no longer goes through Array._allocate"
    missing = {"MemInfo_alloc_aligned", "MemInfo_release", "get_api"} - set(_nrt.c_helpers)
    if missing:
        return f"numba's runtime lacks {sorted(missing)}"
    if not hasattr(ll, "add_symbol"):
        return "llvmlite.binding.add_symbol is missing"
    return None


def _probe_meminfo(nrt_helpers) -> tuple[int, int, str | None]:
    """Make one meminfo with NRT_MemInfo_alloc_external and a probe allocator, release it, and
    check what it wrote and freed. Returns (sizeof(MemInfo), alloc_external address, why)."""
    api = ctypes.CFUNCTYPE(ctypes.c_void_p)(nrt_helpers["get_api"])()
    alloc_external = (ctypes.c_void_p * 2).from_address(api)[1]
    if not alloc_external:
        return 0, 0, "NRT_get_api() has no allocate_external"
    buf = np.zeros(1024, np.int64)
    block = buf.ctypes.data + 256
    freed = []
    malloc_t = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    free_t = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
    realloc_t = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                 ctypes.c_void_p)
    requested = []

    def _malloc(n, opaque):
        requested.append((n, opaque))
        return block

    cbs = (malloc_t(_malloc), realloc_t(lambda p, n, o: None),
           free_t(lambda p, o: freed.append((p, o))))
    allocator = (ctypes.c_void_p * 4)(*[ctypes.cast(f, ctypes.c_void_p) for f in cbs], 12345)
    mi = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)(alloc_external)(
        100, ctypes.addressof(allocator))
    if mi != block or len(requested) != 1 or requested[0][1] != 12345:
        return 0, 0, "NRT_MemInfo_alloc_external did not allocate through the external allocator"
    words = (ctypes.c_int64 * 6).from_address(mi)
    size_mi = requested[0][0] - 100
    ok = (words[0] == 1 and words[1] == 0 and words[3] - mi == size_mi and words[4] == 100
          and words[5] == ctypes.addressof(allocator) and size_mi % 8 == 0 and 40 <= size_mi <= 64)
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(nrt_helpers["MemInfo_release"])(mi)
    if not ok:
        return 0, 0, "numba's MemInfo layout is not the one the hook writes"
    if freed != [(block, 12345)]:
        return 0, 0, "releasing a MemInfo did not call its external allocator's free"
    return size_mi, alloc_external, None


@contextmanager
def _fake_thread(nat: Native):
    """Register the calling thread in row 0 with a fake arena row (its word 0 is
    ``frame_open``) for a probe; undo everything after it. Only while no row is in use."""
    import threading

    from .layout import NO_LIMIT, RB_HDR, ROW_WORDS, F

    arena_row = np.zeros(ROW_WORDS, np.int64)        # untagged, no budget
    arena_row[F.budget_end] = NO_LIMIT
    org_block = np.zeros(RB_HDR + 8, np.int64)
    arena_row[F.orgrow] = org_block.ctypes.data
    fake_row = arena_row[F.frame_open:]              # word 0: frame_open, as the hook sees it
    t = nat.threads[0]
    t["row"], t["threshold"], t["chunk_size"] = fake_row.ctypes.data, 4096, 65536
    t["ext_malloc"], t["ext_realloc"], t["ext_free"] = nat.malloc_cb, nat.realloc_cb, nat.free_cb
    t["ext_opaque"] = nat.threads[0:1].ctypes.data
    t["ident"] = threading.get_ident()
    nat.header["nslots"] = 1
    try:
        yield t, fake_row
    finally:
        t["ident"] = 0
        nat.header["nslots"] = 0
        nat.retire(nat.threads[0:1].ctypes.data)
        for name in ("row", "served", "served_bytes", "outside", "chunks_new", "rewinds",
                     "retired_live", "nalloc", "top", "large", "nomem", "numpy", "over_budget"):
            t[name] = 0


def _probe_compiled(nat: Native) -> str | None:
    """Compile (or load from numba's cache) a function that makes an array; check that, with a
    registered thread, it comes from a chunk inside a frame and from numba outside one."""
    import numba

    @numba.njit(cache=True)
    def make(n):
        return np.empty(n, np.uint8)

    with _fake_thread(nat) as (t, fake_row):
        fake_row[0] = 1
        a = make(100)
        chunk = int(t["chunk"])
        inside = chunk < a.ctypes.data < chunk + 65536 and int(t["served"]) == 1
        fake_row[0] = 0
        b = make(100)
        outside = int(t["outside"]) == 1 and not chunk < b.ctypes.data < chunk + 65536
        del a, b
    if not inside:
        return "a compiled np.empty did not reach the hook (numba links allocations otherwise)"
    if not outside:
        return "a compiled np.empty outside a frame did not go to numba's allocator"
    if int(nat.header["chunks_live"][0]) != 0:
        return "the probe's chunk was not freed"
    return None


# -- NumPy's memory handler (NEP 49) ------------------------------------------------------------

#: The handler's name, as ``np.lib.get_handler_name()`` reports it for arrays it allocated.
NUMPY_HANDLER_NAME = "framealloc"
#: The C-API functions used, with the declaration the installed header must give them.
NUMPY_API = {"PyDataMem_SetHandler": "PyObject * (*)(PyObject *)",
             "PyDataMem_GetHandler": "PyObject * (*)(void)",
             "PyArray_GetNDArrayCFeatureVersion": "unsigned int (*)(void)"}
#: ``PyDataMem_Handler`` and ``PyDataMemAllocator`` as the handler fills them (version 1).
NUMPY_STRUCT = ("char name[127]; uint8_t version; PyDataMemAllocator allocator;",
                "void *ctx; void* (*malloc) (void *ctx, size_t size); void* (*calloc) (void *ctx, "
                "size_t nelem, size_t elsize); void* (*realloc) (void *ctx, void *ptr, size_t "
                "new_size); void (*free) (void *ctx, void *ptr, size_t size);")


class _Handler(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 127), ("version", ctypes.c_uint8),
                ("ctx", ctypes.c_void_p), ("malloc", ctypes.c_void_p),
                ("calloc", ctypes.c_void_p), ("realloc", ctypes.c_void_p),
                ("free", ctypes.c_void_p)]


class NumpyHandler:
    """Our ``PyDataMem_Handler`` capsule and NumPy's calls to set and get the current one.

    The struct, the capsule and its name are never freed (arrays point at them for as long as
    they live, possibly until the interpreter's last moments): they are kept by one extra
    reference that nothing releases.
    """

    def __init__(self, nat: Native, set_fn, get_fn):
        import ctypes as C
        self.struct = _Handler(NUMPY_HANDLER_NAME.encode(), 1, None, *nat.np_funcs)
        self.cname = C.create_string_buffer(b"mem_handler")
        new = C.pythonapi.PyCapsule_New
        new.restype, new.argtypes = C.py_object, [C.c_void_p, C.c_void_p, C.c_void_p]
        self.capsule = new(C.addressof(self.struct), C.addressof(self.cname), None)
        self.set_handler, self.get_handler = set_fn, get_fn
        for keep in (self, self.struct, self.cname, self.capsule):
            C.pythonapi.Py_IncRef(C.py_object(keep))

    def set(self, handler):
        """``PyDataMem_SetHandler(handler)`` in the current context; returns the old one."""
        return self.set_handler(handler)

    def current(self):
        return self.get_handler()


def _numpy_header_text(name: str) -> str | None:
    path = os.path.join(np.get_include(), "numpy", name)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def numpy_api_indices() -> tuple[dict[str, int], str | None]:
    """The ``PyArray_API`` index of each function of :data:`NUMPY_API`, read from the
    installed ``__multiarray_api.h``, or ``({}, why)``."""
    import re
    text = _numpy_header_text("__multiarray_api.h")
    if text is None:
        return {}, "NumPy's __multiarray_api.h is not installed (np.get_include())"
    found = {}
    for fn, decl in NUMPY_API.items():
        m = re.search(r"#define\s+" + fn + r"\s*\\\s*\(\*\((.*?)\)\s*\\\s*PyArray_API\[(\d+)\]\)",
                      text)
        if m is None:
            return {}, f"NumPy's header does not declare {fn} in PyArray_API"
        if " ".join(m.group(1).split()) != decl:
            return {}, f"NumPy's header declares {fn} as {m.group(1)!r}, not {decl!r}"
        found[fn] = int(m.group(2))
    return found, None


def _numpy_struct_why() -> str | None:
    import re
    text = _numpy_header_text("ndarraytypes.h")
    if text is None:
        return "NumPy's ndarraytypes.h is not installed"
    flat = " ".join(re.sub(r"/\*.*?\*/", " ", text, flags=re.S).split())
    for body, name in zip(NUMPY_STRUCT, ("PyDataMem_Handler", "PyDataMemAllocator")):
        if f"typedef struct {{ {body} }} {name};" not in flat:
            return f"NumPy's {name} is not the version-1 struct the handler fills"
    return None


def _numpy_functions(indices: dict[str, int]):
    import ctypes as C

    from numpy._core import _multiarray_umath as mu
    get_ptr = C.pythonapi.PyCapsule_GetPointer
    get_ptr.restype, get_ptr.argtypes = C.c_void_p, [C.py_object, C.c_char_p]
    table = get_ptr(mu._ARRAY_API, None)
    fn = {name: (C.c_void_p).from_address(table + 8 * i).value for name, i in indices.items()}
    set_fn = C.PYFUNCTYPE(C.py_object, C.py_object)(fn["PyDataMem_SetHandler"])
    get_fn = C.PYFUNCTYPE(C.py_object)(fn["PyDataMem_GetHandler"])
    feature = C.PYFUNCTYPE(C.c_uint)(fn["PyArray_GetNDArrayCFeatureVersion"])
    return set_fn, get_fn, feature


def numpy_handler_name(a: np.ndarray | None = None) -> str | None:
    """NumPy's ``get_handler_name``: the handler of ``a``'s data, or the current one."""
    try:
        from numpy._core.multiarray import get_handler_name
    except ImportError:                     # NumPy 1.x
        from numpy.core.multiarray import get_handler_name
    return get_handler_name() if a is None else get_handler_name(a)


def _prefix(a: np.ndarray) -> tuple[int, int]:
    words = (ctypes.c_int64 * 2).from_address(a.ctypes.data - NP_PREFIX)
    return int(words[0]), int(words[1])


def _probe_numpy(nat: Native, handler: NumpyHandler, feature_api: int) -> str | None:
    """In a copy of the calling context: set the handler, check NumPy reports it, allocate
    through it inside and outside a (fake) frame, reallocate, free, and check the chunks."""
    import contextvars
    import re

    get_handler_name = numpy_handler_name
    text = _numpy_header_text("_numpyconfig.h") or ""
    m = re.search(r"#define\s+NPY_API_VERSION\s+(0x[0-9a-fA-F]+|\d+)", text)
    if m is None or int(m.group(1), 0) != feature_api:
        return "NumPy's header and its compiled C-API disagree on the API version"
    if feature_api < 0x0F:               # NEP 49 handlers arrived with NumPy 1.22 (API 15)
        return f"NumPy's C-API version {feature_api:#x} has no memory handlers (NEP 49)"
    default = handler.current()
    if type(default).__name__ != "PyCapsule":
        return "PyDataMem_GetHandler did not return a capsule"

    def run() -> str | None:
        old = handler.set(handler.capsule)
        if handler.current() is not handler.capsule or get_handler_name() != NUMPY_HANDLER_NAME:
            return "NumPy does not report the handler just set"
        if old is not default:
            return "PyDataMem_SetHandler did not return the previous handler"
        with _fake_thread(nat) as (t, fake_row):
            fake_row[0] = 1
            a = np.empty(100, np.uint8)
            chunk = int(t["chunk"])
            z = np.zeros(50)
            inside = (chunk < a.ctypes.data < chunk + 65536 and get_handler_name(a) ==
                      NUMPY_HANDLER_NAME and int(t["numpy"]) == 2 and _prefix(a) == (100, 1)
                      and not z.any())
            r = np.arange(40.0)
            r.resize(5000, refcheck=False)         # realloc: chunk -> above the threshold
            grown = r[:40].tolist() == list(range(40)) and _prefix(r) == (40000, 0)
            fake_row[0] = 0
            b = np.empty(100, np.uint8)
            outside = (int(t["outside"]) == 1 and not chunk < b.ctypes.data < chunk + 65536
                       and _prefix(b) == (100, 0))
            del a, b, z, r
        handler.set(old)
        if get_handler_name() == NUMPY_HANDLER_NAME:
            return "restoring the previous handler did not take effect"
        if not inside:
            return "an array made inside a frame did not come from the handler's chunk"
        if not grown:
            return "realloc through the handler did not keep the array's contents"
        if not outside:
            return "an array made outside a frame did not go to malloc"
        return None

    why = contextvars.copy_context().run(run)
    if why is None and int(nat.header["chunks_live"][0]) != 0:
        why = "the NumPy probe's chunk was not freed"
    if why is None and get_handler_name() == NUMPY_HANDLER_NAME:
        why = "the probe changed the caller's handler"
    return why


def install_numpy(nat: Native) -> tuple[NumpyHandler | None, str | None]:
    """Check NumPy's headers and C-API, make the handler capsule, probe it (in a copy of the
    calling context: nothing outside it changes). ``(handler, None)`` or ``(None, why)``."""
    indices, why = numpy_api_indices()
    why = why or _numpy_struct_why()
    if why:
        return None, why
    try:
        set_fn, get_fn, feature = _numpy_functions(indices)
        handler = NumpyHandler(nat, set_fn, get_fn)
        why = _probe_numpy(nat, handler, int(feature()))
    except Exception as exc:                 # noqa: BLE001 - any failure refuses the half
        why = f"the NumPy probe failed ({type(exc).__name__}: {exc})"
    return (None, why) if why else (handler, None)


def install() -> tuple[Native | None, str | None]:
    """Check, build, hook, probe. Returns ``(Native, None)``, or ``(None, why)`` with nothing
    changed (the symbol is restored when the compiled probe fails)."""
    why = check_internals()
    if why:
        return None, why
    from llvmlite import binding as ll
    from numba.core.registry import cpu_target
    from numba.core.runtime import _nrt_python as _nrt
    from numba.core.runtime import nrt

    cpu_target.target_context.refresh()     # the runtime registers its symbols first
    if not getattr(nrt.rtsys, "_init", False):
        return None, "numba's runtime did not initialise"
    size_mi, alloc_external, why = _probe_meminfo(_nrt.c_helpers)
    if why:
        return None, why
    import threading
    table = new_table()
    nat = Native(build(table, size_mi), table, size_mi)
    if nat.self_id() & (2**64 - 1) != threading.get_ident():
        nat = Native(build(table, size_mi, fast_self=False), table, size_mi)
        if nat.self_id() & (2**64 - 1) != threading.get_ident():
            return None, "the hook cannot tell threads apart as threading.get_ident() does"
    try:
        nat.header["charge"] = charge_address()
    except Exception as exc:                 # noqa: BLE001 - any failure refuses the mode
        return None, f"the budget and tag charge did not compile ({type(exc).__name__}: {exc})"
    orig = _nrt.c_helpers["MemInfo_alloc_aligned"]
    nat.header["orig"] = orig
    nat.header["alloc_external"] = alloc_external
    nat.header["exact"] = 1
    ll.add_symbol(SYMBOL, nat.hook)
    try:
        why = _probe_compiled(nat)
    except Exception as exc:                 # noqa: BLE001 - any failure refuses the mode
        why = f"the compiled probe failed ({type(exc).__name__}: {exc})"
    if why:
        ll.add_symbol(SYMBOL, orig)
        return None, why
    # Kept for the life of the process, even through the interpreter's shutdown: meminfos and
    # NumPy arrays that die then still call this code and update this table.
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(nat))
    nat.numpy, nat.numpy_refused = install_numpy(nat)
    return nat, None
