"""Streaming allocator: budgeted asset memory with priorities, incremental loads and LRU eviction.

``stream = alloc.streaming(budget)`` manages assets (textures, meshes, audio, level chunks) in at
most ``budget`` bytes:

* ``aid = stream.reserve(nbytes | shape, dtype=None, priority=0)`` reserves the memory. When the
  budget is short it evicts *ready* assets of priority ``<=`` the request's, lowest priority first
  and least recently accessed first among equals, calling ``on_evict(aid)`` for each just
  before (if it raises, nothing is evicted or reserved: FA110). If even
  evicting every such asset would not make room, nothing is evicted and
  :class:`~framealloc.StreamingBudgetError` (FA117) is raised. Assets still loading are never
  evicted. The reserved bytes never exceed the budget.
* ``stream.feed(aid, chunk)`` copies the next bytes in and returns the progress (0..1);
  ``stream.is_ready(aid)`` once all bytes arrived; ``stream.load(aid, source, chunk_bytes)``
  yields the progress while it reads a file-like ``source``.
* ``stream.access(aid)`` returns the asset's array (and marks it recently used); FA118 before it
  is ready, FA119 once it was evicted or released.

The budget counts what the allocator holds: an array you got from ``access()`` keeps its memory
alive after its asset is evicted (it never dangles), outside the budget. Python-level only.

>>> import numpy as np, framealloc as fa
>>> evicted = []
>>> stream = fa.SmartAlloc().streaming(1000, on_evict=evicted.append)
>>> a = stream.reserve(600); stream.feed(a, bytes(600))
1.0
>>> b = stream.reserve(600)                      # does not fit: the ready asset `a` is evicted
>>> evicted == [a], stream.used
(True, 600)
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ._closing import ClosesWithOwner, guard_closed
from ._dtypes import box_source, check_nbytes, normalize_shape, resolve_dtype
from ._slots import check_count, check_key
from .errors import ConfigError, UnsupportedDtypeError
from .errors import StreamingBudgetError, StreamingError
from .kernels.layout import (
    SC_EVICTED_BYTES as _EVICTED,
    SC_EVICTIONS as _EVICTIONS,
    SC_PEAK as _PEAK,
    SC_RELEASED as _RELEASED,
    SC_RESERVED_TOTAL as _RESERVED,
    SC_USED as _USED,
    STREAMING_COUNTERS_DTYPE,
    new_counters,
)

__all__ = ["StreamingAllocator", "StreamingInfo"]


@dataclass(frozen=True)
class StreamingInfo:
    """Counters of a :class:`StreamingAllocator`."""

    budget: int
    used: int
    peak: int
    assets: int
    ready: int
    reserved_total: int
    evictions: int
    evicted_bytes: int
    released: int


class _Asset:
    __slots__ = ("buf", "dtype", "shape", "loaded", "priority", "last_access", "name")

    def __init__(self, buf, dtype, shape, priority, tick, name):
        self.buf = buf
        self.dtype = dtype
        self.shape = shape
        self.loaded = 0
        self.priority = priority
        self.last_access = tick
        self.name = name

    @property
    def ready(self) -> bool:
        return self.loaded == self.buf.size


class StreamingAllocator(ClosesWithOwner):
    """Assets in a fixed byte budget (see the module doc). Thread-safe.

    Parameters
    ----------
    budget: bytes the assets may take together.
    on_evict: called with the asset id of each asset evicted to make room.
    """

    def __init__(self, budget: int, *, on_evict: Callable[[int], None] | None = None,
                 name: str = ""):
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget <= 0:
            raise ConfigError(f"budget must be a positive int of bytes, got {budget!r}",
                              code="FA110")
        if on_evict is not None and not callable(on_evict):
            raise ConfigError("on_evict must be callable", code="FA110")
        self.budget = int(budget)
        self.name = name
        self.on_evict = on_evict
        self._lock = threading.RLock()
        self._assets: dict[int, _Asset] = {}
        self._gone: set[int] = set()
        self._ids = itertools.count(1)
        self._tick = itertools.count(1)
        # The int64 words of a STREAMING_COUNTERS record (framealloc.kernels.layout).
        self.counters = new_counters(STREAMING_COUNTERS_DTYPE)

    @property
    def used(self) -> int:
        """Bytes reserved by the assets held now (never above ``budget``)."""
        return int(self.counters[_USED])

    def _get(self, aid) -> tuple[int, _Asset]:
        k = check_key(aid)
        a = self._assets.get(k)
        if a is None:
            how = "was evicted or released" if k in self._gone else "is unknown"
            raise StreamingError(f"asset {k} {how}; reserve and load it again", code="FA119")
        return k, a

    def reserve(self, size, dtype=None, *, priority: int = 0, name: str = "") -> int:
        """Reserve an asset of ``size`` bytes (``dtype=None``) or of ``shape=size`` elements of
        ``dtype``; returns its id. Evicts as described in the module doc, or raises FA117."""
        dims: tuple[int, ...]
        if dtype is None:
            dt, dims = np.dtype(np.uint8), (check_count(size, "size"),)
            nbytes = dims[0]
        else:
            dt, isz, _ = resolve_dtype(dtype)
            dims, count = ((), 1) if size == () else normalize_shape(size)
            nbytes = check_nbytes(count, isz)
        if isinstance(priority, bool) or not isinstance(priority, (int, np.integer)):
            raise ConfigError(f"priority must be an int, got {priority!r}", code="FA110")
        with self._lock:
            c = self.counters
            short = c[_USED] + nbytes - self.budget
            victims = []
            if short > 0:
                if nbytes > self.budget:
                    raise StreamingBudgetError(
                        f"{nbytes} bytes exceed the whole budget of {self.budget} bytes",
                        code="FA117")
                cands = sorted((a.priority, a.last_access, k) for k, a in self._assets.items()
                               if a.ready and a.priority <= priority)
                freed = 0
                for _, _, k in cands:
                    if freed >= short:
                        break
                    victims.append(k)
                    freed += self._assets[k].buf.size
                if freed < short:
                    raise StreamingBudgetError(
                        f"{nbytes} bytes do not fit: {c[0]} of {self.budget} bytes are used and "
                        f"evicting every ready asset of priority <= {priority} frees only {freed};"
                        " nothing was evicted", code="FA117")
            buf = np.empty(nbytes, np.uint8)
            if self.on_evict is not None and victims:
                # Called before anything changes: if it raises, nothing is evicted or reserved.
                used = int(c[_USED])
                for k in victims:
                    try:
                        self.on_evict(k)
                    except Exception as e:
                        raise ConfigError(
                            f"on_evict({k}) raised {type(e).__name__}: {e}; nothing was evicted "
                            "or reserved. Make on_evict not raise (it is told about each asset "
                            "about to be evicted)", code="FA110") from e
                if int(c[_USED]) != used or any(k not in self._assets for k in victims):
                    raise ConfigError("on_evict changed the streaming allocator (reserve/release "
                                      "inside the callback); nothing was evicted or reserved. "
                                      "Do not call the stream from on_evict", code="FA110")
            for k in victims:
                self._drop(k, evicted=True)
            aid = next(self._ids)
            self._assets[aid] = _Asset(buf, dt, dims, int(priority), next(self._tick), name)
            c[_USED] += nbytes
            c[_RESERVED] += nbytes
            if c[_USED] > c[_PEAK]:
                c[_PEAK] = c[_USED]
        return aid

    def _drop(self, k: int, evicted: bool) -> None:
        a = self._assets.pop(k)
        self._gone.add(k)
        c = self.counters
        c[_USED] -= a.buf.size
        if evicted:
            c[_EVICTIONS] += 1
            c[_EVICTED] += a.buf.size
        else:
            c[_RELEASED] += 1

    def feed(self, aid: int, data) -> float:
        """Append the next bytes of the asset (bytes-like or array); returns the progress.
        FA120 (nothing copied) if they would pass the reserved size."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            src = np.frombuffer(data, np.uint8)
        elif isinstance(data, str):
            raise UnsupportedDtypeError("cannot feed a str: an asset takes bytes; encode it "
                                        "(data.encode()) or open the file in binary mode ('rb')",
                                        code="FA006")
        else:
            arr = box_source(data)
            if arr.dtype.hasobject:
                raise UnsupportedDtypeError(
                    f"cannot feed an array of dtype {arr.dtype}: its elements are Python "
                    "references, not data; pass bytes or an array of a fixed-size dtype",
                    code="FA006")
            src = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
        with self._lock:
            k, a = self._get(aid)
            n = src.size
            if a.loaded + n > a.buf.size:
                raise StreamingError(f"asset {k} reserved {a.buf.size} bytes; {a.loaded} are "
                                     f"loaded and {n} more do not fit", code="FA120")
            a.buf[a.loaded:a.loaded + n] = src
            a.loaded += n
            return a.loaded / a.buf.size if a.buf.size else 1.0

    def load(self, aid: int, source, chunk_bytes: int = 1 << 16) -> Iterator[float]:
        """Read ``source`` (a file-like object with ``read``) into the asset ``chunk_bytes`` at a
        time, yielding the progress after each chunk (the loop can run across frames).

        The arguments are checked now (FA106, FA110, FA119), not at the first step."""
        n = max(1, check_count(chunk_bytes, "chunk_bytes"))
        if not callable(getattr(source, "read", None)):
            raise ConfigError(f"source must be a file-like object with a read(n) method (e.g. "
                              f"open(path, 'rb') or io.BytesIO), got {source!r}", code="FA110")
        with self._lock:
            self._get(aid)
        return self._load(aid, source, n)

    def _load(self, aid: int, source, n: int) -> Iterator[float]:
        while True:
            with self._lock:
                k, a = self._get(aid)
                want = min(n, a.buf.size - a.loaded)
            if want == 0:
                return
            chunk = source.read(want)
            if not chunk:
                return
            yield self.feed(k, chunk)

    def progress(self, aid: int) -> float:
        """Fraction of the asset loaded, 0..1."""
        with self._lock:
            _, a = self._get(aid)
            return a.loaded / a.buf.size if a.buf.size else 1.0

    def is_ready(self, aid: int) -> bool:
        """Whether every byte of the asset arrived (False for evicted/unknown assets)."""
        with self._lock:
            a = self._assets.get(check_key(aid))
            return a is not None and a.ready

    def __contains__(self, aid) -> bool:
        return check_key(aid) in self._assets

    def access(self, aid: int) -> np.ndarray:
        """The loaded asset as an array of its dtype/shape; marks it most recently used."""
        with self._lock:
            k, a = self._get(aid)
            if not a.ready:
                raise StreamingError(f"asset {k} is not loaded yet ({a.loaded} of {a.buf.size} "
                                     "bytes); feed it until is_ready()", code="FA118")
            a.last_access = next(self._tick)
            return a.buf.view(a.dtype).reshape(a.shape)

    def release(self, aid: int) -> None:
        """Give the asset's bytes back to the budget (no eviction callback)."""
        with self._lock:
            k, _ = self._get(aid)
            self._drop(k, evicted=False)

    def evict(self, aid: int) -> None:
        """Evict the asset now (the callback is called)."""
        with self._lock:
            k, _ = self._get(aid)
            self._drop(k, evicted=True)
        if self.on_evict is not None:
            self.on_evict(k)

    def info(self) -> StreamingInfo:
        with self._lock:
            c = self.counters.tolist()
            return StreamingInfo(budget=self.budget, used=c[_USED], peak=c[_PEAK],
                                 assets=len(self._assets),
                                 ready=sum(a.ready for a in self._assets.values()),
                                 reserved_total=c[_RESERVED], evictions=c[_EVICTIONS],
                                 evicted_bytes=c[_EVICTED], released=c[_RELEASED])

    def __repr__(self) -> str:
        return (f"StreamingAllocator(budget={self.budget}, used={self.used}, "
                f"assets={len(self._assets)})")


guard_closed(StreamingAllocator, ("info", "used", "is_ready", "progress"))
