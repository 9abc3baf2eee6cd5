"""Size-class pools: fixed-size blocks in pages, free-list stacks in numpy arrays, PoolBox.

One slot table per size class (:mod:`framealloc.kernels.layout`): blocks live in pages of
``AllocConfig.pool_page_size`` bytes that never move (a page table holds their addresses and NRT
meminfos); a free-list stack and a generation per block say which blocks are free. Pages are added
when a class runs dry (also inside @njit) and ``trim()`` gives empty pages back.

Two ways to use them:

* **PoolBox** (Python, safe): ``alloc.pool_alloc(dtype, shape)`` / ``alloc.pool_box(value)``
  returns a :class:`PoolBox`: ``box.array`` is a numpy view of the block. The block goes back to
  its class when the box is freed (``box.free()``, the end of its ``with`` block, or garbage
  collection) **and** no view of it is left: freeing a box whose array you still hold elsewhere
  defers the reuse of the block until that array is gone. So a PoolBox view never dangles (it keeps
  its page alive) and never aliases a later allocation. Exactly one release happens per box.
  Requests larger than the largest class are served from the tracked heap (``box.key == -1``).
* **Slot keys** (Python and @njit): ``key = pools.acquire(nbytes)``, ``pools.view(key, dtype,
  count)``, ``pools.release(key)`` on ``alloc.pools`` (pass ``alloc.pools`` into @njit code). Keys
  pack ``(generation << 32) | (class << 26) | block``: releasing twice raises FA101, a key of a
  released block FA103. Like ``free()`` in C, a view taken from a key aliases whatever reuses the
  block after ``release(key)`` (it never dangles: it keeps its page alive). Python refuses to
  release a key that belongs to a PoolBox; @njit code cannot tell, so do not release box keys there.

Threads: Python calls take a lock; @njit calls do not, so do not run @njit code that acquires or
releases blocks of one allocator concurrently with other users of its pools.

Tags and budgets: every block (slot keys and PoolBoxes, from Python and @njit) is charged to the
calling thread's current tag and the budgets over it, as kind ``"pool"`` with the block's class
size, before it is taken; the tag is recorded per slot, and the release (``release(key)``, or the
moment a freed PoolBox's block really goes back) gives the bytes back to that tag, whichever thread
does it. A hard budget raises :class:`~framealloc.BudgetExceededError` (FA154; ``try_acquire``
returns None) with the pools unchanged. Heap fallbacks of ``pool_alloc`` are kind ``"heap"``.

Example
-------
>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> with alloc.pool_alloc(np.float32, (4, 4)) as box:      # a 64-byte block
...     box.array[:] = 1.0
...     float(box.array.sum()), box.size_class
(16.0, 64)
>>> alloc.stats().pool.current_allocations
0
"""
from __future__ import annotations

import collections
import ctypes
import functools
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from ._closing import Lease, guard_closed
from ._dtypes import check_nbytes, normalize_shape, resolve_dtype
from ._slots import (
    check_count,
    check_key,
    kernels,
    nrt_bytes,
    nrt_drop,
    raise_acquire,
    raise_release,
)
from .errors import ConfigError, DoubleFreeError, ForeignFreeError, UseAfterFreeError, error
from .kernels import PYTHON_CLASSES
from .kernels import status as ST
from .kernels.layout import (
    CLASS_SHIFT,
    KIND_POOL,
    MAX_CLASS_SLOTS,
    POLICY_CLOSED,
    POOL_HDR_BYTES as HDR_BYTES,
    SLOT_MASK,
    F,
    H,
    class_buffer_bytes,
    class_tag_offset,
    gen_offset,
    new_pool_headers,
    words,
)
from .tags import charge_take
from .typed_pool import closed_error, native_org, org_owner, release_tags

__all__ = ["SizeClassPools", "PoolBox", "SizeClassInfo"]

_CLASS_BITS = 0x3F << CLASS_SHIFT
_BLOCK_BITS = (1 << 32) - 1   # class and block of a key without its generation: the block
_FRAME_OPEN, _FRAME_NUMBER = int(F.frame_open), int(F.frame_number)


@dataclass(frozen=True)
class SizeClassInfo:
    """Counters of one size class (``alloc.pools.info()``)."""

    size: int
    live: int
    peak: int
    acquired: int
    pages: int
    pages_trimmed: int
    page_bytes: int


class _SlotRef(weakref.ref):
    """Weak reference to a PoolBox's buffer owner; its callback queues the block's release."""

    __slots__ = ("key",)
    key: int


class PoolBox:
    """A block of a size-class pool holding one array (from ``pool_alloc`` / ``pool_box``).

    ``box.array`` is the numpy view; ``box.key`` the slot key (-1 when served from the heap).
    Free it with ``box.free()`` or a ``with`` block; if you don't, garbage collection does it.
    Exactly one release happens; after ``free()``, ``box.array`` raises FA108 and a second
    ``free()`` FA101. Views taken before ``free()`` stay valid and keep the block out of reuse.

    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> box = alloc.pool_box(np.arange(3.0))
    >>> box.array.tolist(), box.nbytes
    ([0.0, 1.0, 2.0], 24)
    >>> box.free(); box.freed
    True
    """

    __slots__ = ("_array", "_pools", "key", "nbytes", "size_class", "_freed", "_born",
                 "__weakref__")
    _array: np.ndarray | None      # None once freed

    def __init__(self, pools: "SizeClassPools", key: int, array: np.ndarray, size_class: int,
                 born: tuple | None = None):
        self._pools = pools
        self._born = born          # (thread id, frame number) of the frame that made it
        self.key = key
        self._array = array
        self.nbytes = array.nbytes
        self.size_class = size_class
        self._freed = False

    @property
    def array(self) -> np.ndarray:
        """The box's array (FA108 after ``free()``)."""
        a = self._array
        if a is None:      # freed
            raise UseAfterFreeError("this PoolBox was freed; its array is gone (allocate a new "
                                    "one)", code="FA108")
        return a

    @property
    def freed(self) -> bool:
        return self._freed

    def free(self) -> None:
        """Give the block back (once no view of it is left); FA101 when already freed."""
        if self._freed:
            raise DoubleFreeError("this PoolBox was already freed", code="FA101")
        self._freed = True
        self._array = None
        if self._born is not None:
            self._pools._freed_in_frame(self._born)
        if self.key >= 0:
            self._pools._box_freed(self.key)

    def __enter__(self) -> "PoolBox":
        return self

    def __exit__(self, *exc) -> None:
        if not self._freed:
            self.free()

    def __array__(self, dtype=None, copy=None):
        a = self.array
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        a = self._array
        if a is None:
            return f"PoolBox(freed, key={self.key})"
        return (f"PoolBox(shape={a.shape}, dtype={a.dtype}, size_class={self.size_class}, "
                f"key={self.key})")


def _close_classes(hdr: np.ndarray) -> None:
    """Finalizer: drop the pages, page tables and slot arrays of every class."""
    for c in range(hdr.shape[0]):
        h = hdr[c]
        if h[H.POLICY] == POLICY_CLOSED:
            continue
        if h[H.PT_MI]:
            pt = nrt_bytes(int(h[H.PT_MI]), int(h[H.PT]), 16 * int(h[H.PT_CAP])).view(np.int64)
            mis = pt[1:2 * int(h[H.NPAGES]):2].copy()
            del pt
            for mi in mis[mis != 0].tolist():
                nrt_drop(mi)
        slot_mi, pt_mi = int(h[H.MI]), int(h[H.PT_MI])
        # Cumulative counters (acquired, peak, grows) survive closing: stats stay exact.
        keep = (int(h[H.ITEMSIZE]), int(h[H.TRIMMED]) + int(h[H.LIVE_PAGES]), int(h[H.ACQ]),
                int(h[H.PEAK]), int(h[H.GROWS]))
        hdr[c, :] = 0
        h[H.ITEMSIZE], h[H.TRIMMED], h[H.ACQ], h[H.PEAK], h[H.GROWS] = keep
        h[H.POLICY] = POLICY_CLOSED
        nrt_drop(slot_mi)
        nrt_drop(pt_mi)


def _last_holder(ref, hdr) -> None:
    """Nothing holds the pools' lease any more: release their pages."""
    pools = ref()
    if pools is not None:
        pools._release()
    else:
        _close_classes(hdr)


class _ClassState:
    """Python-side cache of one class's arrays (re-read when its SERIAL changes)."""

    __slots__ = ("m", "serial", "gens", "stack", "tags", "pt", "pages")

    def __init__(self, row: np.ndarray):
        self.m = memoryview(row)
        self.serial = -1           # none read yet: refresh() sets every array below
        self.gens = self.stack = self.tags = np.empty(0, np.int32)
        self.pt = np.empty(0, np.int64)
        self.pages: dict = {}

    def refresh(self) -> None:
        m = self.m
        if m[H.SERIAL] == self.serial:
            return
        cap = m[H.CAP]
        if m[H.MI]:
            soff, toff = gen_offset(cap, 4), class_tag_offset(cap)
            buf = nrt_bytes(m[H.MI], m[H.GEN], class_buffer_bytes(cap))
            self.gens = buf[:4 * cap].view(np.int32)
            self.stack = buf[soff:soff + 4 * cap].view(np.int32)
            self.tags = buf[toff:toff + 4 * cap].view(np.int32)
        else:
            self.gens = self.stack = self.tags = np.empty(0, np.int32)
        if m[H.PT_MI]:
            self.pt = nrt_bytes(m[H.PT_MI], m[H.PT], 16 * m[H.PT_CAP]).view(np.int64)
        else:
            self.pt = np.empty(0, np.int64)
        # Page arrays whose page is gone (trimmed) are dropped; live pages never move.
        live = set(self.pt[0:2 * m[H.NPAGES]:2].tolist())
        self.pages = {p: a for p, a in self.pages.items() if a.ctypes.data in live}
        self.serial = m[H.SERIAL]

    def page(self, index: int) -> np.ndarray:
        arr = self.pages.get(index)
        if arr is None:
            arr = self.pages[index] = nrt_bytes(int(self.pt[2 * index + 1]),
                                                int(self.pt[2 * index]), self.m[H.PAGE_BYTES])
        return arr


def _check_pool_classes(classes, page_bytes) -> tuple[tuple[int, ...], int]:
    """``classes``/``page_bytes`` of :class:`SizeClassPools`, validated like ``AllocConfig``:
    1 to 32 increasing multiples of 16, each fitting a page (FA110 otherwise, nothing made)."""
    if isinstance(page_bytes, bool) or not isinstance(page_bytes, (int, np.integer)) \
            or not 16 <= int(page_bytes) <= 1 << 30:
        raise ConfigError(f"page_bytes must be an int between 16 and {1 << 30}, got "
                              f"{page_bytes!r}", code="FA110")
    page_bytes = int(page_bytes)
    bad = ConfigError(f"classes must be 1 to 32 increasing multiples of 16 between 16 and "
                          f"page_bytes ({page_bytes}), got {classes!r}: use a larger page_bytes "
                          "or smaller classes", code="FA110")
    if isinstance(classes, (str, bytes)):
        raise bad
    try:
        out = tuple(classes)
    except TypeError:
        raise bad from None
    if not 1 <= len(out) <= 32 or any(isinstance(c, bool) or not isinstance(c, (int, np.integer))
                                      for c in out):
        raise bad
    out = tuple(int(c) for c in out)
    if any(c < 16 or c % 16 or c > page_bytes for c in out) or list(out) != sorted(set(out)):
        raise bad
    return out, page_bytes


class SizeClassPools:
    """The size-class pools of one SmartAlloc (``alloc.pools``); usable in @njit code.

    Parameters
    ----------
    classes: block sizes in bytes, increasing, multiples of 16.
    page_bytes: bytes per page (each page holds ``page_bytes // size`` blocks of a class).

    >>> import numpy as np, framealloc as fa
    >>> pools = fa.SmartAlloc().pools
    >>> key = pools.acquire(40)                   # a 64-byte block
    >>> v = pools.view(key, np.float64, 5); v[:] = 2.0
    >>> pools.size_of(key), float(pools.view(key, np.float64, 5).sum())
    (64, 10.0)
    >>> pools.release(key)
    """

    def __init__(self, classes=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                 page_bytes: int = 65536, *, owner: int = 0, heap=None, alloc=None):
        self._classes, page_bytes = _check_pool_classes(classes, page_bytes)
        n = len(self._classes)
        self._header = new_pool_headers(n)     # POOL_HEADER records; _hdr: their int64 words
        self._hdr = words(self._header)
        for c, size in enumerate(self._classes):
            h = self._hdr[c]
            h[H.ITEMSIZE] = size
            h[H.BPP] = page_bytes // size
            h[H.PAGE_BYTES] = page_bytes
            h[H.MAXCAP] = MAX_CLASS_SLOTS
            h[H.OWNER] = owner
        self._hdr_addr = int(self._hdr.ctypes.data)
        self._nclasses = n
        self._page_bytes = page_bytes
        self._state = [_ClassState(self._hdr[c]) for c in range(n)]
        self._ctypes = [ctypes.c_ubyte * size for size in self._classes]
        self._lock = threading.RLock()
        self._pending: collections.deque = collections.deque()
        pending = self._pending
        self._on_dead = lambda ref, _p=pending: _p.append(ref)
        self._refs: dict[int, _SlotRef] = {}
        self._deferred: set[int] = set()
        self._heap = heap
        # The SmartAlloc whose tags and budgets the blocks are charged to (weakly; None: none).
        self._owner_ref = weakref.ref(alloc) if alloc is not None else None
        self.heap_fallbacks = 0
        self.heap_fallback_bytes = 0
        # The behaviour filter's FA511 counter: thread id -> (last frame in which a box made
        # in that frame was freed, frames in a row that did so).
        self._short_boxes: dict[int, tuple[int, int]] = {}
        # Closing (framealloc._closing, framealloc.kernels.leases): the code calls on closed
        # pools raise (None: open) and the lease of compiled calls.
        self._closed: str | None = None
        self._released = False
        self._lease = Lease(functools.partial(_last_holder, weakref.ref(self), self._hdr))
        self._finalizer = weakref.finalize(self, self._lease.drop)

    # -- numba -----------------------------------------------------------------------------
    @property
    def _numba_type_(self):
        # First contact with numba: register the typing, then make this a plain class attribute
        # (numba's dispatcher reads it on every call).
        from .kernels import ensure_registered

        ensure_registered()
        from .kernels.pools_njit import size_class_pools_type

        SizeClassPools._numba_type_ = size_class_pools_type
        return size_class_pools_type

    def _native_org(self) -> tuple:
        """What @njit code unboxes: the header address and the number of classes, then
        :func:`framealloc.typed_pool.native_org`."""
        if self._closed:
            self._raise_closed()
        return (self._hdr_addr, self._nclasses) + native_org(self._owner_ref, self._lease.addr)

    def _native_exit(self) -> None:
        """A compiled call using these pools returned after their owner let go (or their
        allocator's did): release what is due."""
        self._lease.exit()
        a = self._owner_ref() if self._owner_ref is not None else None
        if a is not None:
            a._native_exit()

    def _raise_closed(self):
        raise closed_error(self._closed, "the size-class pools")

    # -- classes -----------------------------------------------------------------------------
    @property
    def size_classes(self) -> tuple[int, ...]:
        """Block sizes in bytes."""
        return self._classes

    def class_index(self, nbytes: int) -> int:
        """Index of the smallest class holding ``nbytes`` bytes, or -1 if none does."""
        n = check_count(nbytes, "nbytes")
        for c, size in enumerate(self._classes):
            if n <= size:
                return c
        return -1

    def _row(self, c: int) -> int:
        return self._hdr_addr + c * HDR_BYTES

    def _too_big(self, nbytes: int) -> Exception:
        return error(ST.TOO_BIG_FOR_CLASSES, request=f"{nbytes} bytes",
                     largest=f" ({self._classes[-1]} bytes)")

    def _split(self, key) -> tuple[int, int, int]:
        k = check_key(key)
        c = (k >> CLASS_SHIFT) & 0x3F
        if k < 0 or c >= self._nclasses:
            raise error(ST.FOREIGN_FREE, key=str(k))
        return k, c, k & ~_CLASS_BITS

    def _check_open(self) -> None:
        if self._closed:
            self._raise_closed()

    # -- slot keys (Python side of the @njit API) -------------------------------------------------
    def _acquire(self, c: int, try_: bool, tag: int = 0) -> int | None:
        """Take a block of class ``c`` recording ``tag`` (already charged). Lock held."""
        if tag:
            h = kernels().py_class_acquire_tag(self._row(c), tag)
        else:
            h = kernels().py_class_acquire(self._row(c))
        if h < 0:
            if try_ and h == -ST.POOL_EXHAUSTED:
                return None
            raise_acquire(-h, f"size class {self._classes[c]}")
        return h | (c << CLASS_SHIFT)

    def _take(self, c: int, try_: bool, boxed: bool = False):
        """Charge the allocator's tag and budgets for a block of class ``c`` (FA154, or None
        for ``try_``), then take it: its key (``boxed``: ``(key, ctypes owner of the block)``)
        or None. If the block cannot be had, the charge is given back (``charge_take``)."""
        a = org_owner(self._owner_ref)
        if a is None or self._closed:
            return self._take_tagged(0, (c, try_, boxed))
        if self._pending:
            with self._lock:
                self._drain()     # blocks of collected boxes leave the budgets first
        return charge_take(a, KIND_POOL, self._classes[c], try_, self._take_tagged,
                           (c, try_, boxed))

    def _take_tagged(self, tag: int, arg):
        """Take a block of class ``c`` charged to ``tag`` (``arg``: ``(c, try_, boxed)``): see
        :meth:`_take`. On failure nothing is taken (None, or the error raised)."""
        c, try_, boxed = arg
        with self._lock:
            self._drain()
            key = self._acquire(c, try_, tag)
            if key is None or not boxed:
                return key
            local = key & ~_CLASS_BITS
            try:
                # A ctypes array over the block: numpy keeps it as the array's base (every
                # view keeps it alive), it keeps the page alive, it can be weakly referenced.
                owner = self._ctypes[c].from_buffer(self._block(c, local))
                ref = self._refs[key & _BLOCK_BITS] = _SlotRef(owner, self._on_dead)
            except BaseException:
                self._refs.pop(key & _BLOCK_BITS, None)
                if self._owner_ref is None:
                    kernels().py_release(self._row(c), local)
                else:
                    kernels().py_release_tag(self._row(c), local)   # the charge: charge_take
                raise
            ref.key = key
            return key, owner

    def _give_back(self, c: int, local: int) -> int:
        """Release a block (lock held): a status; its bytes leave the tag they were charged to."""
        if self._owner_ref is None:
            return kernels().py_release(self._row(c), local)
        st, tag = kernels().py_release_tag(self._row(c), local)
        if st == ST.OK:
            a = org_owner(self._owner_ref)
            if a is not None:
                a._org_release(KIND_POOL, tag, self._classes[c])
        return st

    def acquire(self, nbytes: int) -> int:
        """A block of at least ``nbytes`` bytes; returns its slot key (FA111 when larger than the
        largest class)."""
        c = self.class_index(nbytes)
        if c < 0:
            raise self._too_big(nbytes)
        return self._take(c, False)

    def try_acquire(self, nbytes: int) -> int | None:
        """:meth:`acquire`, or None when the class cannot grow (slot limit, out of memory)."""
        c = self.class_index(nbytes)
        if c < 0:
            raise self._too_big(nbytes)
        return self._take(c, True)

    def release(self, key: int) -> None:
        """Give the block of ``key`` back: FA101 if it is not live, FA103 for a stale key,
        FA102 for a key of a PoolBox (free the box instead) or of other pools."""
        k, c, local = self._split(key)
        with self._lock:
            self._drain()
            # By block, not by exact key: a bare key (generation 0 = unchecked) or any other
            # spelling of a box's block must not release it under the box.
            if k & _BLOCK_BITS in self._refs:
                raise ForeignFreeError("this block belongs to a PoolBox; free the box instead",
                                       code="FA102")
            st = self._give_back(c, local)
            if st != ST.OK:
                raise_release(st, local, f"size class {self._classes[c]}")

    def _status(self, c: int, local: int) -> int:
        s = self._state[c]
        s.refresh()
        slot = local & SLOT_MASK
        if local < 0 or slot >= s.m[H.CAP]:
            return ST.SLOT_RANGE
        g = int(s.gens[slot])
        if not g & 1 or ((local >> 32) and (local >> 32) != g):
            return ST.STALE_HANDLE
        return ST.OK

    def is_live(self, key: int) -> bool:
        """Whether ``key`` names a block that is acquired (and its generation matches)."""
        k, c, local = self._split(key)
        return self._status(c, local) == ST.OK

    def size_of(self, key: int) -> int:
        """The block size of ``key``'s class."""
        return self._classes[self._split(key)[1]]

    def view(self, key: int, dtype=np.uint8, count: int = 1) -> np.ndarray:
        """``count`` elements of ``dtype`` at the start of the block of ``key`` (FA107 if they
        do not fit; FA103 if the key is stale). The view keeps the page alive; it aliases
        whatever reuses the block after ``release(key)``."""
        k, c, local = self._split(key)
        dt, isz, _ = resolve_dtype(dtype)
        n = check_count(count, "count")
        with self._lock:
            st = self._status(c, local)
            if st != ST.OK:
                raise_release(st, local, f"size class {self._classes[c]}")
            if n * isz > self._classes[c]:
                raise error(ST.VIEW_TOO_BIG, view=f" of {n} x {isz} bytes",
                            block=f" {self._classes[c]}-byte")
            return self._block(c, local)[:n * isz].view(dt)

    def _block(self, c: int, local: int) -> np.ndarray:
        s = self._state[c]
        s.refresh()
        slot = local & SLOT_MASK
        bpp, size = s.m[H.BPP], self._classes[c]
        page, block = divmod(slot, bpp)
        return s.page(page)[block * size:(block + 1) * size]

    # -- PoolBox -----------------------------------------------------------------------------
    def box(self, dtype, shape=(), zero: bool = False) -> PoolBox:
        """A :class:`PoolBox` holding an array of ``shape``/``dtype`` (heap beyond 4 KiB)."""
        dt, isz, _ = resolve_dtype(dtype)
        dims: tuple[int, ...]
        if shape == ():
            dims, count = (), 1
        else:
            dims, count = normalize_shape(shape)
        nbytes = check_nbytes(count, isz)
        self._check_open()
        c = -1
        for i, size in enumerate(self._classes):
            if nbytes <= size:
                c = i
                break
        if c < 0:
            if self._heap is None:
                raise self._too_big(nbytes)
            arr = self._heap.array(dims, dt, zero=zero)
            with self._lock:
                self.heap_fallbacks += 1
                self.heap_fallback_bytes += nbytes
            return PoolBox(self, -1, arr, 0, self._birth())
        key, owner = self._take(c, False, boxed=True)
        arr = np.frombuffer(owner, dt, count).reshape(dims)
        del owner
        if zero:
            arr[...] = np.zeros((), dt)
        return PoolBox(self, key, arr, self._classes[c], self._birth())

    def _birth(self) -> tuple | None:
        """(thread id, frame number) of the calling thread's open frame, for a new box (None
        outside a frame or without an allocator): what FA511 compares at ``free()``."""
        ref = self._owner_ref
        a = ref() if ref is not None else None
        ta = getattr(a._tls, "arena", None) if a is not None else None
        if ta is None or not ta.m[_FRAME_OPEN]:
            return None
        return ta.tid, ta.m[_FRAME_NUMBER]

    def _freed_in_frame(self, born: tuple) -> None:
        """A box made in frame ``born`` is freed: count it when that frame is still open on the
        calling thread (one per frame at most)."""
        a = self._owner_ref() if self._owner_ref is not None else None
        ta = getattr(a._tls, "arena", None) if a is not None else None
        if ta is None or ta.tid != born[0] or not ta.m[_FRAME_OPEN]:
            return
        fn = ta.m[_FRAME_NUMBER]
        if fn != born[1]:
            return
        last, run = self._short_boxes.get(ta.tid, (-1, 0))
        if last != fn:
            self._short_boxes[ta.tid] = (fn, run + 1 if last == fn - 1 else 1)

    def _short_box_streak(self, tid: int) -> tuple[int, int]:
        """``(last frame of thread ``tid`` in which a box made in that frame was freed, frames in
        a row that did so up to it)``, ``(-1, 0)`` if none: the behaviour filter's FA511."""
        return self._short_boxes.get(tid, (-1, 0))

    def _box_freed(self, key: int) -> None:
        with self._lock:
            self._drain()
            if key & _BLOCK_BITS in self._refs:   # a view of the block is still alive somewhere
                self._deferred.add(key)

    def _drain(self) -> None:
        """Release the blocks whose PoolBox (and every view of it) is gone. Lock held."""
        pending = self._pending
        while pending:
            ref = pending.popleft()
            key = ref.key
            if self._refs.get(key & _BLOCK_BITS) is ref:
                del self._refs[key & _BLOCK_BITS]
                self._deferred.discard(key)
                if not self._closed:
                    c = (key >> CLASS_SHIFT) & 0x3F
                    self._give_back(c, key & ~_CLASS_BITS)

    def collect(self) -> None:
        """Release blocks of PoolBoxes that were garbage-collected (done by every call anyway)."""
        with self._lock:
            self._drain()

    # -- maintenance -----------------------------------------------------------------------
    def trim(self) -> int:
        """Give every page without a live block back; returns the bytes released.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> boxes = [alloc.pool_alloc(np.float64) for _ in range(5000)]
        >>> del boxes
        >>> alloc.trim() > 0, alloc.stats().pool.reserved
        (True, 0)
        """
        released = 0
        with self._lock:
            self._drain()
            if self._closed:
                return 0
            for c in range(self._nclasses):
                released += self._trim_class(c)
        return released

    def _trim_class(self, c: int) -> int:
        s = self._state[c]
        s.refresh()
        m = s.m
        npages, bpp = m[H.NPAGES], m[H.BPP]
        if m[H.LIVE_PAGES] == 0:
            return 0
        live = (s.gens[:npages * bpp].reshape(npages, bpp) & 1).any(axis=1)
        held = s.pt[0:2 * npages:2] != 0
        empty = np.flatnonzero(held & ~live)
        if empty.size == 0:
            return 0
        top = m[H.TOP]
        stack = s.stack[:top].copy()
        keep = stack[~np.isin(stack // bpp, empty)]
        s.stack[:keep.size] = keep
        mis = s.pt[2 * empty + 1].copy()
        s.pt[2 * empty] = 0
        s.pt[2 * empty + 1] = 0
        for p in empty.tolist():
            s.pages.pop(p, None)
        m[H.TOP] = keep.size
        k = int(empty.size)
        m[H.SLOTS] = m[H.SLOTS] - k * bpp
        m[H.LIVE_PAGES] = m[H.LIVE_PAGES] - k
        m[H.TRIMMED] = m[H.TRIMMED] + k
        m[H.SERIAL] = m[H.SERIAL] + 1
        for mi in mis.tolist():
            nrt_drop(mi)
        return k * m[H.PAGE_BYTES]

    def info(self) -> list[SizeClassInfo]:
        """Counters per size class (also after ``close()``: the final counters)."""
        if not self._closed:
            self.collect()
        out = []
        for c, size in enumerate(self._classes):
            m = self._state[c].m
            out.append(SizeClassInfo(size=size, live=m[H.SLOTS] - m[H.TOP], peak=m[H.PEAK],
                                     acquired=m[H.ACQ], pages=m[H.LIVE_PAGES],
                                     pages_trimmed=m[H.TRIMMED], page_bytes=m[H.PAGE_BYTES]))
        return out

    @property
    def deferred_frees(self) -> int:
        """Freed PoolBoxes whose block waits for the last view of it to go."""
        if not self._closed:
            self.collect()
        return len(self._deferred)

    def close(self) -> None:
        """Close the pools: later calls raise FA109, and every page is released (at once, or
        when the last compiled call using the pools returns). Views handed out keep their pages
        alive. Closing twice is harmless.

        >>> import framealloc as fa
        >>> pools = fa.SizeClassPools(); pools.close()
        >>> try:
        ...     pools.acquire(16)
        ... except fa.PoolError as e:
        ...     print(e.code)
        FA109
        """
        self._close("FA109")

    def _close(self, code: str) -> None:
        """Close with ``code`` (FA109 by themselves, FA015 with their allocator)."""
        with self._lock:
            if self._closed:
                return
            self._closed = code
        self._finalizer()     # drops the pools' own lease: _release() runs when it is free

    def _release(self) -> None:
        with self._lock:
            a = self._owner_ref() if self._owner_ref is not None else None
            if a is not None and not self._released:
                # The live blocks leave the stats now: give their bytes back to their tags.
                for c, s in enumerate(self._state):
                    s.refresh()
                    release_tags(a, s.tags[(s.gens & 1) != 0], self._classes[c])
            self._released = True
            _close_classes(self._hdr)
            self._refs.clear()
            self._deferred.clear()
            self._pending.clear()
            for s in self._state:
                s.serial, s.pages, s.pt = -1, {}, np.empty(0, np.int64)
                s.gens = s.stack = s.tags = np.empty(0, np.int32)

    def __repr__(self) -> str:
        return f"SizeClassPools(classes={self._classes}, page_bytes={self._page_bytes})"


guard_closed(SizeClassPools, ("size_classes", "info", "deferred_frees"))

# The numba layer refuses these classes' Python-only names inside @njit (FA016).
PYTHON_CLASSES["SizeClassPools"] = SizeClassPools
