"""Frame phases: named, nestable sections of a frame with bytes, allocations and wall time each.

``alloc.begin_phase(name)`` / ``alloc.end_phase()`` or ``with alloc.phase(name):`` mark a part
of the calling thread's open frame ("update", "render", ...). Nesting builds paths
(``"update::physics"``). While a phase is open, everything the calling thread allocates is
counted in it: frame arrays from Python and from the ``@njit`` functions called in the phase
(their prange workers included), and every other kind that
:meth:`~framealloc.SmartAlloc._thread_counters` counts. ``phase_stats()`` reports per frame and
cumulatively; ``alloc.stats()`` carries the totals of every thread.

Rules (see docs/phases.md):

* phases are per thread and belong to the thread's open frame; ``begin_phase`` outside a frame
  raises :class:`PhaseError` (FA158);
* ``end_phase(name)`` must name the innermost open phase (its name or its full path);
* a phase still open at ``end_frame`` is closed there, flagged ``open_at_end_frame=True`` and
  reported with a :class:`PhaseWarning` (FA159); it is **not** re-opened in the next frame;
* records aggregate by path per frame: a path entered three times in one frame gives one record
  with ``occurrences == 3`` and the sums of the three;
* bytes are bytes *handed out* (alignment padding included; a checkpoint rollback does not
  subtract them); nested phases are included in their parent's ``bytes``/``allocations``/
  ``wall_ns``, and excluded from its ``self_*`` values;
* Python-level only: begin and end phases around ``@njit`` calls, not inside ``@njit`` code.

>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> with alloc.frame():
...     with alloc.phase("update"):
...         a = alloc.frame_array(100, np.float64)          # 800 bytes
...         with alloc.phase("physics"):
...             b = alloc.frame_array(50, np.float64)       # 400 bytes
>>> s = alloc.phase_stats()
>>> s["update"].bytes, s["update"].self_bytes, s["update::physics"].bytes
(1200, 800, 400)
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from types import FrameType

import numpy as np

from ._hooks import AllocPart
from .errors import PhaseError, PhaseWarning, warn

__all__ = ["PhasesPart", "PhaseStats", "PhaseTotals", "PhasesStats", "PhaseBlock"]

_FRAME_CHOICES = ("last", "current", "all")


# -- public records ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PhaseStats:
    """One phase path in one frame of one thread (occurrences aggregated).

    Attributes
    ----------
    path: ``"update::physics"``; name: its last part (``"physics"``).
    depth: number of enclosing phases (0 for a top-level phase).
    frame: the thread's frame number (``alloc.frame_number`` during that frame).
    bytes / allocations: allocated by the thread while the phase was open, nested phases
        included (inclusive). self_bytes / self_allocations: the same minus the direct children.
    wall_ns / self_wall_ns: wall-clock time (``time.perf_counter_ns``), inclusive / exclusive.
    occurrences: how many times the path was entered in that frame (values are their sums).
    open_at_end_frame: at least one occurrence was still open when the frame ended (FA159).
    in_progress: the phase is open right now (only in ``phase_stats("current")``).

    >>> import framealloc as fa
    >>> r = fa.PhaseStats("render", "render", 0, 7, 64, 64, 1, 1, 1000, 1000, 1, False, False)
    >>> r.to_dict()["bytes"], r.wall_ms
    (64, 0.001)
    """

    path: str
    name: str
    depth: int
    frame: int
    bytes: int
    self_bytes: int
    allocations: int
    self_allocations: int
    wall_ns: int
    self_wall_ns: int
    occurrences: int
    open_at_end_frame: bool = False
    in_progress: bool = False

    @property
    def wall_ms(self) -> float:
        """``wall_ns`` in milliseconds."""
        return self.wall_ns / 1e6

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class PhaseTotals:
    """One phase path summed over completed frames (of one thread from ``phase_stats("all")``,
    of every thread in ``alloc.stats().phases``).

    Attributes
    ----------
    path, depth: as in :class:`PhaseStats`.
    frames: completed frames in which the path was entered; occurrences: times entered.
    bytes, self_bytes, allocations, self_allocations, wall_ns, self_wall_ns: sums.
    max_bytes, max_allocations, max_wall_ns: the largest per-frame values.
    open_at_end_frame: frames in which the phase was still open at end_frame.

    >>> import framealloc as fa
    >>> t = fa.PhaseTotals("render", 0, frames=2, bytes=96, max_bytes=64)
    >>> t.mean_bytes, t.to_dict()["frames"]
    (48.0, 2)
    """

    path: str
    depth: int
    frames: int = 0
    occurrences: int = 0
    bytes: int = 0
    self_bytes: int = 0
    allocations: int = 0
    self_allocations: int = 0
    wall_ns: int = 0
    self_wall_ns: int = 0
    max_bytes: int = 0
    max_allocations: int = 0
    max_wall_ns: int = 0
    open_at_end_frame: int = 0

    @property
    def mean_bytes(self) -> float:
        """Bytes per frame in which the path appeared."""
        return self.bytes / self.frames if self.frames else 0.0

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class PhasesStats:
    """The ``phases`` section of :class:`~framealloc.AllocStats`: every thread's completed frames.

    Attributes
    ----------
    frames: completed thread-frames in which at least one phase was entered.
    frames_with_open_phases: of those, frames that ended with a phase open (FA159).
    paths: per path, a :class:`PhaseTotals` summed over threads (``depth`` is the path's).

    >>> import framealloc as fa
    >>> fa.PhasesStats().to_dict()
    {'frames': 0, 'frames_with_open_phases': 0, 'paths': {}}
    """

    frames: int = 0
    frames_with_open_phases: int = 0
    paths: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (``paths`` maps each path to its totals as a dict)."""
        return asdict(self)


# -- internal state ---------------------------------------------------------------------------
class _Open:
    """An open phase occurrence on a thread's stack."""

    __slots__ = ("name", "path", "depth", "b0", "n0", "t0", "cb", "cn", "ct")

    def __init__(self, name: str, path: str, depth: int, b0: int, n0: int, t0: int):
        self.name, self.path, self.depth = name, path, depth
        self.b0, self.n0, self.t0 = b0, n0, t0
        self.cb = self.cn = self.ct = 0   # inclusive totals of closed direct children


class _Acc:
    """Per-path accumulator of the current frame."""

    __slots__ = ("name", "depth", "b", "sb", "n", "sn", "t", "st", "occ", "left_open")

    def __init__(self, name: str, depth: int):
        self.name, self.depth = name, depth
        self.b = self.sb = self.n = self.sn = self.t = self.st = self.occ = 0
        self.left_open = False

    def copy(self) -> "_Acc":
        c = _Acc(self.name, self.depth)
        for k in _Acc.__slots__:
            setattr(c, k, getattr(self, k))
        return c

    def record(self, path: str, frame: int, in_progress: bool = False) -> PhaseStats:
        return PhaseStats(path, self.name, self.depth, frame, self.b, self.sb, self.n, self.sn,
                          self.t, self.st, self.occ, self.left_open, in_progress)


class _Tot:
    """Mutable per-path totals (turned into :class:`PhaseTotals` on demand)."""

    __slots__ = ("depth", "frames", "occ", "b", "sb", "n", "sn", "t", "st", "mb", "mn", "mt",
                 "left_open")

    def __init__(self, depth: int):
        self.depth = depth
        self.frames = self.occ = self.b = self.sb = self.n = self.sn = self.t = self.st = 0
        self.mb = self.mn = self.mt = self.left_open = 0

    def add(self, r: PhaseStats) -> None:
        self.frames += 1
        self.occ += r.occurrences
        self.b += r.bytes
        self.sb += r.self_bytes
        self.n += r.allocations
        self.sn += r.self_allocations
        self.t += r.wall_ns
        self.st += r.self_wall_ns
        self.mb = max(self.mb, r.bytes)
        self.mn = max(self.mn, r.allocations)
        self.mt = max(self.mt, r.wall_ns)
        self.left_open += bool(r.open_at_end_frame)

    def totals(self, path: str) -> PhaseTotals:
        return PhaseTotals(path, self.depth, self.frames, self.occ, self.b, self.sb, self.n,
                           self.sn, self.t, self.st, self.mb, self.mn, self.mt, self.left_open)


class _Counters:
    """The allocation counters of one thread slot, every kind: ``read()`` is ``(bytes,
    allocations)`` allocated so far, what :meth:`~framealloc.tags.OrgPart.thread_counters`
    computes (``tests/org/test_phases.py`` checks they agree), read through int64 memoryviews of
    the slot's arena rows and organisation blocks: about 1 us for two worker rows, where the
    numpy field sums of ``thread_counters`` take ~30 us (they were most of a phase's cost)."""

    __slots__ = ("_keep", "_m", "_o", "_rows", "_blocks", "_fields", "_other")

    def __init__(self, rows, blocks):
        """``rows``: the slot's arena rows (one per worker row); ``blocks``: its organisation
        blocks (int64, one row per worker row)."""
        from .kernels.layout import RB_OTHER_BYTES, RB_OTHER_COUNT

        names = ("frame_open", "used_before", "cursor", "count", "allocated_total",
                 "heap_fallback_bytes", "count_total")
        assert all(rows.dtype.fields[f][0] == np.int64 for f in names)
        assert rows.flags.c_contiguous and blocks.flags.c_contiguous
        self._keep = (rows, blocks)               # the memory the views read
        self._m = memoryview(rows.view(np.int64).reshape(-1))
        self._o = memoryview(blocks.reshape(-1))
        row_words, block_words = rows.dtype.itemsize // 8, blocks.shape[1]
        self._rows = range(0, rows.shape[0] * row_words, row_words)
        self._blocks = range(0, blocks.shape[0] * block_words, block_words)
        self._fields = tuple(rows.dtype.fields[f][1] // 8 for f in names)
        self._other = (RB_OTHER_BYTES, RB_OTHER_COUNT)

    def read(self) -> tuple[int, int]:
        m, o = self._m, self._o
        fo, ub, cur, cnt, at, hfb, ct = self._fields
        b = n = 0
        for r in self._rows:
            if m[r + fo]:                 # the open frame's bytes so far
                b += m[r + ub] + m[r + cur]
                n += m[r + cnt]
            b += m[r + at] + m[r + hfb]
            n += m[r + ct]
        ob, oc = self._other
        for r in self._blocks:            # pool, heap and scratch allocations
            b += o[r + ob]
            n += o[r + oc]
        return b, n


class _ThreadPhases:
    """Phase state of one thread (``ta.ext["phases"]``)."""

    __slots__ = ("stack", "frame", "current", "last", "totals", "pending", "counters")

    def __init__(self):
        self.stack: list[_Open] = []
        self.frame = 0                       # frame number ``current``/``stack`` belong to
        self.current: dict[str, _Acc] = {}   # closed occurrences of this frame, by path
        self.last: dict[str, PhaseStats] = {}
        self.totals: dict[str, _Tot] = {}
        self.pending: str | None = None      # FA159 message to issue after end_frame
        self.counters: _Counters | None = None  # the thread slot's counters (first phase)


class _Shared:
    """Allocator-wide totals (every thread's completed frames)."""

    __slots__ = ("lock", "totals", "frames", "left_open")

    def __init__(self):
        self.lock = threading.Lock()
        self.totals: dict[str, _Tot] = {}
        self.frames = 0
        self.left_open = 0


_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _warn(message: str, strict: bool = False) -> None:
    """Issue FA159 at the first caller outside framealloc (and contextlib); raise it when
    ``strict`` (``AllocConfig.strict``)."""
    level = 1
    f: FrameType | None = sys._getframe(0)
    while f is not None:
        fn = os.path.abspath(f.f_code.co_filename)
        if not (fn.startswith(_PKG_DIR) or os.path.basename(fn) == "contextlib.py"):
            break
        level += 1
        f = f.f_back
    warn(PhaseWarning(f"FA159: {message}"), strict=strict, stacklevel=level)


def _check_name(name) -> None:
    if not isinstance(name, str) or not name or not name.isprintable() or "::" in name:
        raise PhaseError(f"bad phase name {name!r}: a phase name is a non-empty str of printable "
                         "characters without '::' (nesting makes the path)", code="FA158")


class PhaseBlock:
    """What ``with alloc.phase(name) as p:`` gives: after the block, ``p.stats`` is the
    :class:`PhaseStats` of this one occurrence (None if the frame ended inside the block)."""

    __slots__ = ("_alloc", "_part", "_name", "_token", "stats")

    def __init__(self, part: "PhasesPart", name: str, alloc=None):
        self._part, self._name = part, name
        self._alloc = alloc     # the allocator, kept alive while the block is
        self._token: _Open | None = None
        self.stats: PhaseStats | None = None

    def __enter__(self) -> "PhaseBlock":
        if self._token is not None:
            raise PhaseError("this phase block is already open; call alloc.phase(name) again "
                             "for a new block", code="FA158")
        self._token = self._part._phase_begin(self._name)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        token, self._token = self._token, None
        self.stats = self._part._phase_exit_block(token)

    def __repr__(self) -> str:
        return f"PhaseBlock({self._name!r})"


_shared_lock = threading.Lock()   # makes a part's allocator-wide totals once


class PhasesPart(AllocPart):
    """Named phases inside frames, of one SmartAlloc (``alloc._phase_part``).

    State: per thread, a ``_ThreadPhases`` in ``ta.ext["phases"]`` (made on the thread's first
    phase call); allocator-wide totals (``_Shared``, made when a frame with phases first ends).
    Frame events: ``before_end_frame`` closes the open phases and publishes the frame's records,
    ``after_end_frame`` issues the FA159 warning once the frame has really ended.

    It reads the frames part's arenas (``arena()``, ``tls``) and the row fields ``frame_open`` /
    ``frame_number`` (word indices given at construction), and asks the org part for the
    thread's allocation counters (:meth:`~framealloc.tags.OrgPart.thread_counters`).
    """

    def __init__(self, owner, frames, org, fields: tuple[int, int]):
        self._owner = owner         # weak reference to the SmartAlloc
        self._strict = frames.config.strict   # AllocConfig.strict: warnings raise
        self._frames = frames
        self._tls = frames.tls
        self._org = org
        # Word indices of ``frame_open`` and ``frame_number`` in the arena row (``ta.m``).
        self._fo, self._fnum = fields
        self._shared: _Shared | None = None

    # -- state ---------------------------------------------------------------------------------
    def _phase_shared(self) -> _Shared:
        sh = self._shared
        if sh is None:
            with _shared_lock:
                sh = self._shared
                if sh is None:
                    sh = self._shared = _Shared()
        return sh

    @staticmethod
    def _phase_state(ta) -> _ThreadPhases:
        st = ta.ext.get("phases")
        if st is None:
            st = ta.ext["phases"] = _ThreadPhases()
        return st

    def _counts(self, ta, st: _ThreadPhases) -> tuple[int, int]:
        """The thread's (bytes, allocations) so far (:class:`_Counters`, made on first use)."""
        c = st.counters
        if c is None:
            c = st.counters = _Counters(self._frames.rows[ta.slot], self._org._orgrows[ta.slot])
        return c.read()

    def _phase_stale(self, ta, st: _ThreadPhases) -> bool:
        """The frame the phase state belongs to has ended without the frame events (inside
        @njit code, or by ``close()``)."""
        if not st.frame:
            return False
        return not ta.m[self._fo] or ta.m[self._fnum] != st.frame

    def _phase_sync(self, ta, st: _ThreadPhases) -> None:
        if self._phase_stale(ta, st):
            msg = self._phase_finish_frame(ta, st)
            if msg:
                _warn(msg, self._strict)

    def _phase_close(self, ta, st: _ThreadPhases, b: int, n: int, t: int,
                     left_open: bool) -> PhaseStats:
        """Close the innermost open occurrence at counters (b, n) and time t."""
        o = st.stack.pop()
        incl_b, incl_n, incl_t = max(0, b - o.b0), max(0, n - o.n0), max(0, t - o.t0)
        acc = st.current[o.path]     # registered by _phase_begin
        self_b, self_n, self_t = (max(0, incl_b - o.cb), max(0, incl_n - o.cn),
                                  max(0, incl_t - o.ct))
        acc.b += incl_b
        acc.sb += self_b
        acc.n += incl_n
        acc.sn += self_n
        acc.t += incl_t
        acc.st += self_t
        acc.occ += 1
        acc.left_open |= left_open
        if st.stack:
            parent = st.stack[-1]
            parent.cb += incl_b
            parent.cn += incl_n
            parent.ct += incl_t
        return PhaseStats(o.path, o.name, o.depth, st.frame, incl_b, self_b, incl_n, self_n,
                          incl_t, self_t, 1, left_open, False)

    def _phase_finish_frame(self, ta, st: _ThreadPhases) -> str | None:
        """Close what is open (flagged), publish the frame's records; returns the FA159 message
        if phases were left open."""
        frame = st.frame
        msg = None
        if st.stack:
            t = time.perf_counter_ns()
            b, n = self._counts(ta, st)
            paths = [o.path for o in reversed(st.stack)]
            while st.stack:
                self._phase_close(ta, st, b, n, t, True)
            msg = (f"phase{'s' if len(paths) > 1 else ''} {', '.join(map(repr, paths))} still "
                   f"open at end_frame (frame {frame}): closed there and flagged "
                   "open_at_end_frame=True; phases are not re-opened in the next frame")
        records = {p: a.record(p, frame) for p, a in st.current.items()}
        st.current = {}
        st.frame = 0
        st.last = records
        if records:
            for p, r in records.items():
                tot = st.totals.get(p)
                if tot is None:
                    tot = st.totals[p] = _Tot(r.depth)
                tot.add(r)
            sh = self._phase_shared()
            with sh.lock:
                sh.frames += 1
                sh.left_open += msg is not None
                for p, r in records.items():
                    tot = sh.totals.get(p)
                    if tot is None:
                        tot = sh.totals[p] = _Tot(r.depth)
                    tot.add(r)
        return msg

    # -- frame events --------------------------------------------------------------------------
    def before_end_frame(self, ta) -> None:
        st = ta.ext.get("phases")
        if st is not None:
            # Phases end where end_frame is called: close them before the other features'
            # end-of-frame work. The warning waits until the frame has really ended, so that
            # warnings-as-errors cannot leave the frame open.
            st.pending = self._phase_finish_frame(ta, st)

    def after_end_frame(self, ta) -> None:
        st = ta.ext.get("phases")
        if st is not None and st.pending:
            msg, st.pending = st.pending, None
            _warn(msg, self._strict)

    # -- public API ----------------------------------------------------------------------------
    def _phase_begin(self, name: str) -> _Open:
        self._check_open()
        _check_name(name)
        ta = self._frames.arena()
        st = self._phase_state(ta)
        self._phase_sync(ta, st)
        if not ta.m[self._fo]:
            raise PhaseError(f"begin_phase({name!r}) outside a frame: phases belong to the "
                             "calling thread's open frame; call begin_frame() first", code="FA158")
        stack = st.stack
        parent = stack[-1] if stack else None
        path = f"{parent.path}::{name}" if parent is not None else name
        if not st.frame:
            st.frame = ta.m[self._fnum]
        if path not in st.current:   # records keep the order in which paths were entered
            st.current[path] = _Acc(name, len(stack))
        b, n = self._counts(ta, st)
        o = _Open(name, path, len(stack), b, n, time.perf_counter_ns())
        stack.append(o)
        return o

    def begin_phase(self, name: str) -> None:
        """Open phase ``name`` on the calling thread, inside the current phase if one is open.

        FA158 (:class:`PhaseError`) outside a frame or for a bad name (a non-empty printable str
        without ``"::"``). Prefer ``with alloc.phase(name):``, which always ends it.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc(); alloc.begin_frame()
        >>> alloc.begin_phase("update"); alloc.begin_phase("physics"); alloc.current_phase
        'update::physics'
        >>> alloc.end_phase("physics").path
        'update::physics'
        >>> alloc.end_phase().path, alloc.current_phase
        ('update', '')
        >>> alloc.end_frame()
        """
        self._phase_begin(name)

    def end_phase(self, name: str | None = None) -> PhaseStats:
        """Close the calling thread's innermost open phase and return the :class:`PhaseStats` of
        this occurrence (``occurrences == 1``).

        ``name``, if given, must be the innermost phase's name or full path. FA158 with nothing
        changed when no phase is open or the name does not match.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc(); alloc.begin_frame()
        >>> alloc.begin_phase("load"); _ = alloc.frame_array(10, np.int32)
        >>> alloc.end_phase("load").bytes
        40
        >>> alloc.end_phase()
        Traceback (most recent call last):
        ...
        framealloc.errors.PhaseError: FA158: end_phase() with no open phase on this thread
        >>> alloc.end_frame()
        """
        if name is not None and not isinstance(name, str):
            raise PhaseError(f"end_phase(name): name must be a str or None, got "
                             f"{type(name).__name__}", code="FA158")
        ta = self._frames.arena()
        st = ta.ext.get("phases")   # a refused call makes no per-thread state
        if st is not None:
            self._phase_sync(ta, st)
        if st is None or not st.stack:
            raise PhaseError("end_phase() with no open phase on this thread", code="FA158")
        top = st.stack[-1]
        if name is not None and name != top.name and name != top.path:
            raise PhaseError(f"end_phase({name!r}) but the innermost open phase is {top.path!r}; "
                             "end the inner phases first", code="FA158")
        t = time.perf_counter_ns()
        b, n = self._counts(ta, st)
        return self._phase_close(ta, st, b, n, t, False)

    def phase(self, name: str) -> PhaseBlock:
        """``with alloc.phase(name) as p:`` — a phase for the block, ended even on exceptions;
        afterwards ``p.stats`` is this occurrence's :class:`PhaseStats`.

        Phases begun with ``begin_phase`` inside the block and still open at its end are closed
        with it (FA159 warning). If the frame ends inside the block the phase was already closed
        there (flagged, FA159) and the exit does nothing.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     with alloc.phase("render") as p:
        ...         _ = alloc.frame_array((4, 4), np.float32)
        >>> p.stats.bytes, p.stats.allocations
        (64, 1)
        """
        _check_name(name)
        return PhaseBlock(self, name, self._owner())

    def _phase_exit_block(self, token: _Open | None) -> PhaseStats | None:
        ta = getattr(self._tls, "arena", None)
        if token is None or ta is None:
            return None
        st = self._phase_state(ta)
        self._phase_sync(ta, st)
        idx = next((i for i, o in enumerate(st.stack) if o is token), None)
        if idx is None:   # closed by end_frame (already reported) or by an explicit end_phase
            return None
        t = time.perf_counter_ns()
        b, n = self._counts(ta, st)
        inner = [o.path for o in reversed(st.stack[idx + 1:])]
        while len(st.stack) > idx + 1:
            self._phase_close(ta, st, b, n, t, False)
        rec = self._phase_close(ta, st, b, n, t, False)
        if inner:
            _warn(f"phase{'s' if len(inner) > 1 else ''} {', '.join(map(repr, inner))} still open "
                  f"when the block of phase {token.path!r} ended: closed with it", self._strict)
        return rec

    def current_phase(self) -> str:
        """Path of the calling thread's innermost open phase; "" outside any phase.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame(), alloc.phase("update"), alloc.phase("ai"):
        ...     alloc.current_phase
        'update::ai'
        >>> alloc.current_phase
        ''
        """
        ta = getattr(self._tls, "arena", None)
        if ta is None:
            return ""
        st = ta.ext.get("phases")
        if st is None or not st.stack or self._phase_stale(ta, st):
            return ""
        return st.stack[-1].path

    def phase_stats(self, frame: str = "last") -> dict:
        """The calling thread's phase records, keyed by path, in the order phases were entered.

        ``frame="last"``: :class:`PhaseStats` of the last completed frame (``{}`` if it had no
        phases); ``"current"``: the open frame so far, open phases included with their values
        up to now (``in_progress=True``); ``"all"``: :class:`PhaseTotals` per path over every
        completed frame of this thread (``alloc.stats().phases`` sums every thread).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> for _ in range(3):
        ...     with alloc.frame():
        ...         for _ in range(2):
        ...             with alloc.phase("spawn"):
        ...                 _ = alloc.frame_array(8, np.int8)
        >>> alloc.phase_stats()["spawn"].occurrences, alloc.phase_stats()["spawn"].bytes
        (2, 16)
        >>> t = alloc.phase_stats("all")["spawn"]
        >>> t.frames, t.occurrences, t.bytes, t.max_bytes
        (3, 6, 48, 16)
        """
        if frame not in _FRAME_CHOICES:
            raise PhaseError(f"phase_stats(frame={frame!r}): frame must be one of "
                             f"{', '.join(map(repr, _FRAME_CHOICES))}", code="FA158")
        ta = getattr(self._tls, "arena", None)
        st = ta.ext.get("phases") if ta is not None else None
        if st is None:
            return {}
        self._phase_sync(ta, st)
        if frame == "last":
            return dict(st.last)
        if frame == "all":
            return {p: tot.totals(p) for p, tot in st.totals.items()}
        # "current": closed occurrences plus the open ones as if closed now.
        accs = {p: a.copy() for p, a in st.current.items()}
        if st.stack:
            t = time.perf_counter_ns()
            b, n = self._counts(ta, st)
            extra_b = extra_n = extra_t = 0       # inclusive values of the open child
            for o in reversed(st.stack):
                ib, in_, it = max(0, b - o.b0), max(0, n - o.n0), max(0, t - o.t0)
                acc = accs[o.path]
                acc.b += ib
                acc.sb += max(0, ib - o.cb - extra_b)
                acc.n += in_
                acc.sn += max(0, in_ - o.cn - extra_n)
                acc.t += it
                acc.st += max(0, it - o.ct - extra_t)
                acc.occ += 1
                extra_b, extra_n, extra_t = ib, in_, it
        open_paths = {o.path for o in st.stack}
        fnum = st.frame
        return {p: a.record(p, fnum, p in open_paths) for p, a in accs.items()}

    def section(self) -> dict:
        """The ``phases`` section of :meth:`~framealloc.SmartAlloc.stats`:
        ``{"phases": PhasesStats}``, every thread's completed frames summed per path."""
        sh = self._shared
        if sh is None:
            return {"phases": PhasesStats()}
        with sh.lock:
            paths = {p: tot.totals(p) for p, tot in sh.totals.items()}
            return {"phases": PhasesStats(sh.frames, sh.left_open, paths)}
