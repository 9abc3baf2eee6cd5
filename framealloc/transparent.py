"""Transparent frames: arrays that unmodified ``@njit`` code creates come from frame chunks.

Inside ``with fa.transparent(alloc):`` on a thread, and while that thread has a frame of
``alloc`` open, every array that compiled numba code allocates (``np.empty``, ``np.zeros_like``,
array expressions, ``np.array``, ``.copy()``, reductions' temporaries) up to ``threshold`` bytes
is carved from the thread's chunk instead of ``malloc``. Outside a frame, above the threshold,
on other threads, and in kernels compiled before :func:`install_transparent`, allocation is what
numba always does.

Nothing here can dangle: an array keeps its chunk alive (numba's reference count decides when it
dies, as for any array), a chunk is reused only when nothing carved from it is alive, and frees
from any thread are counted atomically. See ``docs/transparent.md`` and
:mod:`framealloc.kernels.transparent` for the mechanism and its limits.

>>> import numpy as np, numba, framealloc as fa
>>> fa.install_transparent()            # once, before the kernels are first called
True
>>> @numba.njit
... def energy(x):
...     return ((x - x.mean()) ** 2).sum()     # one fused temporary
>>> alloc = fa.SmartAlloc()
>>> with fa.transparent(alloc) as t, alloc.frame():
...     e = energy(np.arange(8.0))
>>> float(e), t.stats().served
(42.0, 1)
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .config import KiB, MiB
from .errors import TransparentWarning, error, warn
from .kernels.status import Status as ST
from .stats import TransparentStats

__all__ = ["transparent", "install_transparent", "transparent_status", "TransparentScope",
           "TransparentStats", "TransparentStatus"]

#: Default largest request served from chunks, and default chunk size.
DEFAULT_THRESHOLD = KiB(64)
DEFAULT_CHUNK = MiB(1)

_lock = threading.Lock()
_native: Any = None            # kernels.transparent.Native once installed
_refusal: str | None = None    # why install refused (then nothing was changed)
_local = threading.local()     # .stack: this thread's open scopes, .row: its table row index
# Per allocator, the counters of its scopes (what SmartAlloc.stats().transparent reports). A
# thread's counters are credited to the allocator of its innermost open scope: each push or pop
# of a scope settles the stretch since the last one ("segment"); the open stretch of each
# thread is added when stats are read. Guarded by _lock.
_credit: "weakref.WeakKeyDictionary[Any, np.ndarray]" = weakref.WeakKeyDictionary()
_segments: dict[int, list] = {}   # ident -> [row index, counters at the segment's start, alloc]


@dataclass(frozen=True)
class TransparentStatus:
    """The process-wide state of the mode (:func:`transparent_status`).

    ``installed``: the hook is in place; ``refused``: why :func:`install_transparent` refused
    (``None`` if it did not); ``threads``: threads inside a scope now; ``chunks_live`` and
    ``chunk_bytes``: chunks not yet returned to ``malloc`` (a chunk lives while it is a thread's
    current chunk or while an array in it lives); ``chunks_total``: chunks ever taken;
    ``exact_nrt_stats``: meminfos are made by numba's own function, so NRT statistics stay exact;
    ``numpy``: NumPy's handler (NEP 49) is available to ``numpy=True`` scopes, else
    ``numpy_refused`` says why not.
    """

    installed: bool
    refused: str | None
    threads: int
    chunks_live: int
    chunk_bytes: int
    chunks_total: int
    exact_nrt_stats: bool
    numpy: bool = False
    numpy_refused: str | None = None


def install_transparent() -> bool:
    """Hook numba's array allocation for :func:`transparent` scopes (once per process).

    Checks first that numba's internals are the ones this mode knows (the allocation symbol and
    its lowering, the runtime's C entry points, the ``MemInfo`` layout and free path, and a
    compiled probe). When a check fails it issues :class:`~framealloc.TransparentWarning`
    (FA190) saying which, changes nothing and returns ``False``; scopes then do nothing.

    Kernels linked before this call keep numba's allocator: call it at start-up, before their
    first call (kernels loaded from numba's cache later are linked then and use the hook).

    >>> import framealloc as fa
    >>> fa.install_transparent()
    True
    """
    global _native, _refusal, W_IDENT, W_ROW, W_THRESHOLD, W_CHUNK_SIZE, W_COUNTERS
    global _FRAME_OPEN_OFFSET, W_DEBUG
    with _lock:
        if _native is not None:
            return True
        if _refusal is None:
            from .kernels import transparent as ti
            native, why = ti.install()
            if native is None:
                _refusal = why
            else:
                (W_IDENT, W_ROW, W_THRESHOLD, W_CHUNK_SIZE, W_COUNTERS,
                 _FRAME_OPEN_OFFSET, W_DEBUG) = _words()
                _native = native
        if _native is not None:
            return True
    warn(TransparentWarning(str(error(ST.TRANSPARENT_REFUSED, why=_refusal))), stacklevel=2)
    return False


def transparent_status() -> TransparentStatus:
    """Where the mode stands in this process (installed, refusal, threads, chunks)."""
    nat = _native
    if nat is None:
        return TransparentStatus(False, _refusal, 0, 0, 0, 0, False, False, _refusal)
    h = nat.header[0]
    threads = int((nat.threads["ident"] != 0).sum())
    return TransparentStatus(True, None, threads, int(h["chunks_live"]), int(h["chunk_bytes"]),
                             int(h["chunks_total"]), bool(h["exact"]), nat.numpy is not None,
                             nat.numpy_refused)


class TransparentScope:
    """The calling thread's transparent scope over one allocator (see :func:`transparent`)."""

    __slots__ = ("alloc", "threshold", "chunk_size", "numpy", "_row", "_saved", "_thread",
                 "_base", "_active", "_old_handler")

    def __init__(self, alloc, threshold: int, chunk_size: int, numpy: bool = False):
        self.alloc = alloc
        self.threshold = threshold
        self.chunk_size = chunk_size
        self.numpy = numpy
        self._old_handler: Any = None
        self._row: int | None = None
        self._saved: tuple | None = None
        self._thread: int | None = None
        self._base: Any = None
        self._active = False

    def __enter__(self) -> "TransparentScope":
        if self._thread is not None:
            raise error(ST.TRANSPARENT_ARG, what="this scope is already entered",
                        fix="make a new one with fa.transparent(alloc)")
        if not install_transparent():
            self._thread = threading.get_ident()
            return self                  # refused: a scope that changes nothing
        ta = self.alloc._arena()                  # attaches the thread (FA012/FA015 as usual)
        row_addr = ta.row_addr
        debug = 1 if self.alloc.config.debug else 0
        if debug:
            _keep_org_blocks(self.alloc, ta.slot)
        nat = _native
        ident = threading.get_ident()
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        if not stack:
            idx = _claim_row(nat)
            _local.row = idx
            # Gives the row back if this thread ends inside the scope (its locals go first).
            _local.guard = _RowGuard(idx, ident)
        w = nat.words[_local.row]               # the thread's row as int64 words (W_*)
        self._saved = (w[W_ROW], w[W_THRESHOLD], w[W_CHUNK_SIZE], w[W_DEBUG])
        self._base = w[W_COUNTERS].copy()
        w[W_DEBUG] = debug
        w[W_THRESHOLD] = self.threshold
        w[W_CHUNK_SIZE] = self.chunk_size
        w[W_ROW] = row_addr + _FRAME_OPEN_OFFSET
        if not stack:
            nat.header["exact"] = _nrt_stats_on()
            w[W_IDENT] = ident                  # last: the hook may now find this row
        _settle(ident, _local.row, self.alloc)
        stack.append(self)
        self._thread = ident
        self._active = True
        if self.numpy:
            if nat.numpy is None:
                warn(TransparentWarning(str(error(
                    ST.TRANSPARENT_REFUSED, why=f"NumPy's handler: {nat.numpy_refused}"))),
                    stacklevel=2)
            else:                               # this thread's context only (NEP 49)
                self._old_handler = nat.numpy.set(nat.numpy.capsule)
        return self

    def __exit__(self, *exc) -> None:
        if not self._active:
            return
        if self._thread != threading.get_ident():
            raise error(ST.TRANSPARENT_ARG, what="a scope left on another thread",
                        fix="enter and leave a transparent scope on the same thread")
        stack = _local.stack
        if not stack or stack[-1] is not self:
            raise error(ST.TRANSPARENT_ARG, what="scopes left out of order",
                        fix="leave nested transparent scopes innermost first")
        w = _native.words[_local.row]
        if self._old_handler is not None:
            _native.numpy.set(self._old_handler)
            self._old_handler = None
        self._base = w[W_COUNTERS] - self._base
        stack.pop()
        self._active = False
        _settle(self._thread, _local.row, stack[-1].alloc if stack else None)
        if stack:
            w[W_ROW], w[W_THRESHOLD], w[W_CHUNK_SIZE], w[W_DEBUG] = self._saved
            return
        _local.guard.release()
        _local.guard = None

    def stats(self) -> TransparentStats:
        """What this scope's thread allocated while the scope was open (so far, if it is)."""
        if self._base is None:
            return TransparentStats()
        if self._active:
            return TransparentStats(*map(int, _native.words[_local.row][W_COUNTERS] - self._base))
        return TransparentStats(*map(int, self._base))

    def __repr__(self) -> str:
        state = "open" if self._active else "closed"
        return (f"<TransparentScope {state} threshold={self.threshold} "
                f"chunk_size={self.chunk_size}>")


# The organisation blocks of debug allocators' thread slots that transparent scopes used: their
# arrays' frees count themselves in the block's ``tp_freed`` word (BLOCK_HEADER's stamp), on any
# thread and at any time, so the blocks are kept for the life of the process (a few KiB per
# thread slot of a debug allocator). Guarded by _lock.
_debug_blocks: dict[int, np.ndarray] = {}


def _keep_org_blocks(alloc, slot: int) -> None:
    blocks = alloc._org_part._orgrows[slot]
    with _lock:
        _debug_blocks.setdefault(blocks.ctypes.data, blocks)


def _settle(ident: int, row: int, alloc) -> None:
    """Credit the thread's counters since its last push or pop to the allocator of the scope
    that was innermost, and start a segment for ``alloc`` (``None``: the thread left)."""
    now = _native.words[row][W_COUNTERS].copy()
    with _lock:
        seg = _segments.pop(ident, None)
        if seg is not None and seg[2] is not None:
            prev = seg[2]()
            if prev is not None:
                credit = _credit.get(prev)
                _credit[prev] = (now - seg[1]) if credit is None else credit + (now - seg[1])
        if alloc is not None:
            _segments[ident] = [row, now, weakref.ref(alloc)]


def alloc_counters(alloc) -> TransparentStats:
    """What the transparent scopes over ``alloc`` served, on every thread, so far (open scopes
    included): ``SmartAlloc.stats().transparent``. Counters of a thread are credited to its
    innermost open scope's allocator."""
    nat = _native
    if nat is None:
        return TransparentStats()
    with _lock:
        total = _credit.get(alloc)
        total = np.zeros(len(fields(TransparentStats)), np.int64) if total is None else \
            total.copy()
        for row, start, ref in _segments.values():
            if ref() is alloc:
                total += nat.words[row][W_COUNTERS] - start
    return TransparentStats(*map(int, total))


class _RowGuard:
    """A thread's claim on its table row, released when its outermost scope ends, or when the
    thread ends inside a scope (then its thread-local storage, and this object, go)."""

    __slots__ = ("row", "ident")

    def __init__(self, row: int, ident: int):
        self.row, self.ident = row, ident

    def release(self) -> None:
        nat, row = _native, self.row
        self.row = -1
        if row < 0 or nat is None:
            return
        w = nat.words[row]
        if w[W_IDENT] != self.ident:
            return
        w[W_IDENT] = 0                         # first: the hook no longer finds this row
        if self.ident in _segments:             # the thread ended inside a scope
            _settle(self.ident, row, None)
        # No compiled code of this thread runs now, so the chunk is ours to let go: it is freed
        # now if nothing in it lives, else by the last array's free.
        nat.retire(nat.row_addr[row])
        w[W_ROW] = 0
        with _lock:
            nat.free_rows.append(row)

    def __del__(self) -> None:
        self.release()


def _words():
    from .kernels.layout import ARENA_DTYPE
    from .kernels.transparent import TW
    names = [f.name for f in fields(TransparentStats)]
    first = TW[names[0]]
    assert [TW[n] - first for n in names] == list(range(len(names))), "counters moved"
    return (TW["ident"], TW["row"], TW["threshold"], TW["chunk_size"],
            slice(first, first + len(names)), ARENA_DTYPE.fields["frame_open"][1], TW["debug"])


W_IDENT = W_ROW = W_THRESHOLD = W_CHUNK_SIZE = W_DEBUG = 0
W_COUNTERS = slice(0)
_FRAME_OPEN_OFFSET = 0


def _claim_row(nat) -> int:
    with _lock:
        if nat.free_rows:
            return nat.free_rows.pop()
        n = int(nat.header["nslots"][0])
        if n >= len(nat.threads):
            raise error(ST.TRANSPARENT_THREADS, limit=str(len(nat.threads)))
        t = nat.threads[n]
        t["ext_malloc"], t["ext_realloc"], t["ext_free"] = nat.malloc_cb, nat.realloc_cb, \
            nat.free_cb
        t["ext_opaque"] = nat.row_addr[n]
        nat.header["nslots"] = n + 1
        return n


def _nrt_stats_on() -> int:
    from numba.core.runtime import _nrt_python
    return 1 if _nrt_python.memsys_stats_enabled() else 0


def transparent(alloc, *, threshold: int | None = None, chunk_size: int = DEFAULT_CHUNK,
                numpy: bool = False) -> TransparentScope:
    """A scope in which compiled numba code on this thread allocates its arrays from ``alloc``'s
    frames: ``with fa.transparent(alloc):``.

    While the scope is open and the thread has a frame of ``alloc`` open, every array of at
    most ``threshold`` bytes (default 64 KiB, at most ``chunk_size``) that ``@njit`` code
    creates comes from the thread's chunk (``chunk_size`` bytes, default 1 MiB, more if one
    request needs more). The kernels stay unchanged.
    Arrays may outlive the frame and the scope: they keep their chunk alive.

    ``numpy=True`` also serves NumPy calls made by Python code on this thread (NEP 49: the
    scope sets framealloc's data handler in the current context and restores the previous one
    on exit); off by default, since it gains no speed from Python (``docs/transparent.md``).

    Scopes nest (the innermost allocator and sizes apply) and are per thread; enter and leave
    one on the same thread. The first scope installs the hook (:func:`install_transparent`);
    if that is refused (FA190 warning), scopes change nothing. Bad arguments raise
    :class:`~framealloc.ConfigError` (FA191).

    >>> import numpy as np, numba, framealloc as fa
    >>> @numba.njit
    ... def step(x):
    ...     x += np.zeros_like(x) + 1.0
    ...     return x
    >>> alloc = fa.SmartAlloc()
    >>> x = np.zeros(4)
    >>> with fa.transparent(alloc, threshold=fa.KiB(16)) as t:
    ...     with alloc.frame():
    ...         x = step(x)
    >>> x.tolist(), t.stats().served
    ([1.0, 1.0, 1.0, 1.0], 2)
    """
    from .alloc import SmartAlloc
    if not isinstance(alloc, SmartAlloc):
        raise error(ST.TRANSPARENT_ARG, what=f"fa.transparent() needs a SmartAlloc, got "
                    f"{type(alloc).__name__}", fix="pass the allocator whose frames to use")
    if threshold is None and isinstance(chunk_size, int):
        threshold = min(DEFAULT_THRESHOLD, chunk_size)
    for name, value, low in (("threshold", threshold, 0), ("chunk_size", chunk_size, KiB(4))):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 1 << 40:
            raise error(ST.TRANSPARENT_ARG, what=f"{name}={value!r} is not an int between "
                        f"{low} and 2**40", fix=f"pass {name} in bytes (fa.KiB, fa.MiB)")
    if not isinstance(numpy, bool):
        raise error(ST.TRANSPARENT_ARG, what=f"numpy={numpy!r} is not a bool",
                    fix="pass numpy=True to serve NumPy calls from Python too")
    if threshold > chunk_size:
        raise error(ST.TRANSPARENT_ARG, what=f"threshold={threshold} is larger than "
                    f"chunk_size={chunk_size}", fix="keep the threshold at most the chunk size")
    return TransparentScope(alloc, int(threshold), int(chunk_size), numpy)
