"""Tags and budgets (the org part of SmartAlloc): every allocation attributed, every limit
enforced.

Tags
    ``with alloc.tag("physics"):`` attributes every allocation of the calling thread (frame, pool,
    heap, scratch; from Python and inside @njit functions called in the block) to the tag.
    Nesting gives paths (``physics::broadphase``). Inside @njit, use integer ids obtained once in
    Python (``alloc.tag_id("physics")``) with ``alloc.push_tag(tid)`` / ``alloc.pop_tag()``.
    Frame bytes are attributed when the tag changes (not per allocation), so tags cost the
    allocation hot path nothing.

Budgets
    ``set_budget`` (all memory, or one kind), ``set_tag_budget`` (a tag and its descendants) and
    ``set_thread_frame_budget`` (the calling thread's frame bytes), each with a soft limit (a
    callback and a :class:`~framealloc.BudgetWarning` FA155, once per frame per budget) and a hard
    limit (:class:`~framealloc.BudgetExceededError` FA154, or None from ``try_*``; nothing
    changes). Limits count live bytes. Set budgets from the thread that allocates, or between
    frames: a budget set while another thread is inside a frame applies to that thread from its
    next frame or tag switch.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ._hooks import AllocPart
from .kernels.layout import (
    B_ACTIVE,
    B_HARD,
    B_HARD_HITS,
    B_PEAK,
    B_SOFT,
    B_SOFT_EVENTS,
    B_SOFT_FRAME,
    B_USED,
    C_ALLOCATED,
    C_COUNT,
    C_CURRENT,
    C_FREED,
    C_FREES,
    C_PEAK,
    EV_SOFT,
    EVENT_CAP,
    H_ACTIVE,
    H_EVENTS,
    H_HITS,
    H_NTAGS,
    H_SOFT,
    HISTORY_DTYPE,
    KIND_FRAME,
    KIND_NAMES,
    KINDS,
    MAX_TAG_DEPTH,
    NO_LIMIT,
    RB_DEPTH,
    RB_HDR,
    RB_HIST_MASK,
    RB_HIST_DETAIL,
    RB_HISTORY,
    RB_OOMS,
    RB_OTHER_BYTES,
    RB_OTHER_COUNT,
    RB_SLOT,
    T_DEPTH,
    T_PARENT,
    TAG_BUDGET0,
    F,
    OrgTables,
    history_capacity,
    history_detail_dtype,
    new_org_rows,
)
from .errors import BudgetError, BudgetWarning, TagError, error, warn
from .kernels import status as ST

__all__ = ["OrgPart", "TagStats", "BudgetStats", "BudgetEvent"]

_TAG, _SEG_POS, _SEG_COUNT = int(F.tag), int(F.seg_pos), int(F.seg_count)
_BUDGET_KINDS = ("total",) + KIND_NAMES


@dataclass(frozen=True)
class TagStats:
    """Bytes and allocations attributed to one tag (its own, not its descendants').

    current / peak: live bytes now / at most; allocated / freed: bytes ever handed out / given
    back; allocations / frees: counts. ``kinds`` splits them by kind (frame, pool, heap,
    scratch). The root tag ``""`` holds everything allocated outside any tag.
    """

    path: str
    current: int = 0
    peak: int = 0
    allocated: int = 0
    freed: int = 0
    allocations: int = 0
    frees: int = 0
    kinds: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetStats:
    """One budget: its limits (None: none), live bytes it counts now (``current``, including
    budget bytes leased to running frames) and at most, soft events and hard refusals."""

    name: str
    soft: int | None
    hard: int | None
    current: int
    peak: int
    soft_events: int
    hard_hits: int


@dataclass(frozen=True)
class BudgetEvent:
    """A soft limit passed (``kind="soft"``) or a hard limit refusing (``"hard"``)."""

    kind: str
    budget: str
    limit: int
    used: int
    request: int
    frame: int
    thread_slot: int


def _org_kernels():
    from .kernels import org
    return org


_reg_lock = threading.Lock()   # makes a part's tag registry once


def _check_limit(v, what: str) -> int:
    if v is None:
        return NO_LIMIT
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise BudgetError(f"FA156: the {what} limit must be an int >= 0 or None, got {v!r}")
    return int(v)


def _check_name(name) -> str:
    if not isinstance(name, str) or not name or not name.isprintable():
        raise TagError(f"FA150: a tag name must be a non-empty printable str, got {name!r}")
    parts = name.split("::")
    if any(not p or p != p.strip() for p in parts):
        raise TagError(f"FA150: bad tag path {name!r}: empty parts or spaces around '::'")
    if len(parts) > MAX_TAG_DEPTH:
        raise TagError(f"FA150: tag path {name!r} is deeper than {MAX_TAG_DEPTH} levels")
    return name


def charge_take(alloc, kind: int, nbytes: int, try_: bool, take, arg):
    """Charge, take, give back on failure: the one sequence every attributed kind follows from
    Python (typed pools, size-class pools and their boxes, heap arrays and tracked arrays,
    scratch pools). Its @njit twin, for the pool acquires compiled into user kernels, is
    :func:`framealloc.kernels.pool_kernels.acquire_org`; in @njit scratch allocation
    (``kernels.scratch.scratch_bump``) the fit is checked before the charge, so its take fails
    only on a broken tag table (INTERNAL), where it refunds the same way.

    Charges ``nbytes`` of ``kind`` to the calling thread's tag and budgets through
    ``alloc._org_charge`` (FA154 when a hard budget refuses, None under ``try_``), then calls
    ``take(tag, arg)``; ``arg`` is whatever the site needs, one object so that both calls stay
    plain positional calls (the fast kind). ``take`` returns what it took, or None when it took
    nothing (the try_ forms' "out of memory"), or raises. On either failure the charge is
    refunded through ``alloc._org_refund`` (counted neither as an allocation nor as a free)
    before this returns None or re-raises, so the allocator's counters are exactly as before
    (``take`` undoes its own partial work before it fails). Returns the result of ``take``, or
    None.

    >>> import framealloc as fa
    >>> from framealloc.kernels.layout import KIND_HEAP
    >>> a = fa.SmartAlloc()
    >>> with a.tag("sim"):
    ...     charge_take(a, KIND_HEAP, 64, False, lambda tag, arg: None, None)  # took nothing
    >>> a.stats().tags["sim"].kinds["heap"]["allocations"]
    0
    """
    tag = alloc._org_charge(kind, nbytes, try_)
    if tag is None:
        return None
    try:
        got = take(tag, arg)
    except BaseException:
        alloc._org_refund(kind, tag, nbytes)
        raise
    if got is None:
        alloc._org_refund(kind, tag, nbytes)
    return got


class OrgPart(AllocPart):
    """Tags and budgets of one SmartAlloc (``alloc._org_part``).

    State: ``tables`` (:class:`~framealloc.kernels.org_state.OrgTables`: header, tag table,
    counters, budgets, event ring; also ``alloc._org``), one organisation block per arena row
    (made when a thread slot is first used, see :meth:`attach_slot`), the tag registry (names,
    ids, soft-limit callbacks, delivered events; made on first use) and the org fields of the
    arena rows (``org``, ``orgrow``, ``tag``, ``seg_pos``, ``seg_count``).

    Interface for the other parts: :meth:`attach_slot` (frames: a thread takes a slot),
    :meth:`charge` / :meth:`release` (every kind; bound as ``alloc._org_charge`` /
    ``alloc._org_release``), :meth:`budget_refused` and :meth:`deliver_events` (the frame slow
    path), :meth:`current_tag_id` and :meth:`thread_counters` (phases), and for ``stats()``
    :meth:`frame_live_per_tag`, :meth:`sections`, :meth:`num_ooms`. It reads the frames part's
    rows and arenas, and the live bytes of the other kinds from the pools and scratch parts'
    stats sections (``sections()`` / ``section()``). No frame events.
    """

    def __init__(self, owner, config, frames, pools, scratch):
        self._owner = owner           # weak reference to the SmartAlloc
        self.config = config
        self._frames = frames
        self._tls = frames.tls
        self._pools = pools
        self._scratch = scratch
        # Shared tables, plus one block per arena row made when its thread slot is first used.
        self._org = self.tables = OrgTables(config.max_tags, config.max_threads,
                                            config.budget_lease)
        frames.rows["org"] = self._org.addr
        self._orgrows: dict[int, np.ndarray] = {}
        #: Frame-history rings per thread slot (HISTORY entries, per-tag entries).
        self.history_rings: dict[int, tuple] = {}
        self._retired_ooms = 0
        self._reg: dict | None = None

    # -- thread slots ------------------------------------------------------------------------
    def attach_slot(self, slot: int) -> np.ndarray:
        """A thread takes arena slot ``slot`` (the frames part's lock held): its organisation
        blocks (one per worker row, cleared), its thread budget reset, its rows pointed at them
        and untagged. Returns the blocks (the first is the thread's ``ta.ob``)."""
        blocks = self._orgrows.get(slot)
        if blocks is None:
            blocks = self._orgrows[slot] = new_org_rows(
                self._frames.workers, self.config.max_tags)
        else:
            self._retired_ooms += int(blocks[:, RB_OOMS].sum())
            blocks[...] = 0
        blocks[:, RB_SLOT] = slot
        self._attach_history(slot, blocks)
        self._reset_thread_budget(slot)   # a recycled slot starts without its budget
        rows = self._frames.rows
        rows["orgrow"][slot, :] = blocks.ctypes.data + np.arange(self._frames.workers) * \
            blocks.strides[0]
        rows["tag"][slot, :] = 0
        return blocks

    def _attach_history(self, slot: int, blocks: np.ndarray) -> None:
        """Give the slot's first block its frame-history rings (cleared when the slot is
        reused), unless ``AllocConfig.history`` is 0."""
        cap = history_capacity(self.config.history)
        if cap == 0:
            return
        rings = self.history_rings.get(slot)
        if rings is None:
            rings = self.history_rings[slot] = (
                np.zeros(cap, HISTORY_DTYPE),
                np.zeros(cap, history_detail_dtype(self.config.max_tags)))
        else:
            for ring in rings:
                ring[...] = 0
        blocks[0, RB_HISTORY] = rings[0].ctypes.data
        blocks[0, RB_HIST_MASK] = cap - 1
        blocks[0, RB_HIST_DETAIL] = rings[1].ctypes.data

    def num_ooms(self) -> int:
        """Out-of-memory refusals counted in the organisation blocks (ended threads included)."""
        return sum(int(b[:, RB_OOMS].sum()) for b in list(self._orgrows.values())) + \
            self._retired_ooms

    # -- tag registry ------------------------------------------------------------------------
    def _tag_reg(self) -> dict:
        reg = self._reg
        if reg is None:
            with _reg_lock:
                reg = self._reg
                if reg is None:
                    reg = self._reg = {"names": [""], "ids": {"": 0}, "callbacks": {}, "seen": 0,
                                       "events": [], "lock": threading.RLock()}
        return reg

    def tag_id(self, path: str) -> int:
        """The integer id of the tag ``path`` (registered on first use, parents included), for
        @njit code: ``alloc.push_tag(tid)`` ... ``alloc.pop_tag()``.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.tag_id("physics::broadphase") == alloc.tag_id("physics::broadphase")
        True
        >>> alloc.tag_name(alloc.tag_id("physics"))
        'physics'
        """
        reg = self._tag_reg()
        try:
            return reg["ids"][path]
        except (KeyError, TypeError):
            pass
        _check_name(path)
        with reg["lock"]:
            parent = 0
            parts = path.split("::")
            subs = ["::".join(parts[:i + 1]) for i in range(len(parts))]
            new = sum(sub not in reg["ids"] for sub in subs)
            if len(reg["names"]) + new > self.config.max_tags:   # register all parts or none
                raise TagError(f"FA151: more than max_tags={self.config.max_tags} tags "
                               f"(registering {path!r}); reuse tag names or raise "
                               "AllocConfig.max_tags")
            for i, sub in enumerate(subs):
                tid = reg["ids"].get(sub)
                if tid is None:
                    tid = len(reg["names"])
                    self._org.tags[tid, T_PARENT] = parent
                    self._org.tags[tid, T_DEPTH] = i + 1
                    reg["names"].append(sub)
                    reg["ids"][sub] = tid
                    self._org.hdr[H_NTAGS] = tid + 1
                parent = tid
            return parent

    def tag_name(self, tag_id: int) -> str:
        """The path of a tag id ("" for the root)."""
        names = self._tag_reg()["names"]
        if isinstance(tag_id, bool) or not isinstance(tag_id, (int, np.integer)) or \
                not 0 <= tag_id < len(names):
            raise TagError(f"FA153: unknown tag id {tag_id!r}")
        return names[int(tag_id)]

    def current_tag(self) -> str:
        """Path of the calling thread's current tag ("" when untagged).

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.tag("physics"), alloc.tag("broadphase"):
        ...     alloc.current_tag
        'physics::broadphase'
        """
        return self._tag_reg()["names"][self._frames.arena().m[_TAG]]

    def current_tag_id(self, ta=None) -> int:
        """Id of the calling thread's current tag (0 when untagged)."""
        return (ta if ta is not None else self._frames.arena()).m[_TAG]

    def _switch_rows(self, ta, tag: int) -> None:
        st = _org_kernels().switch_tag(ta.handle[0], self._frames.workers, tag)
        if st:
            raise error(st)

    def push_tag(self, name: str) -> int:
        """Enter tag ``name`` (relative to the current tag) on the calling thread; returns its id.
        Prefer ``with alloc.tag(name):``. Pair with :meth:`pop_tag`."""
        self._check_open()
        ta = self._frames.arena()
        cur = ta.m[_TAG]
        names = self._tag_reg()["names"]
        _check_name(name)
        tid = self.tag_id(f"{names[cur]}::{name}" if cur else name)   # checks the whole path
        self._switch_rows(ta, tid)
        ta.tags.append(cur)
        return tid

    def pop_tag(self, stacklevel: int = 3) -> None:
        """Leave the tag entered by the matching :meth:`push_tag` (FA152 without one)."""
        ta = self._frames.arena()
        stack = ta.tags
        if not stack:
            raise TagError("FA152: pop_tag() without a matching push_tag() on this thread")
        if self._orgrows[ta.slot][0, RB_DEPTH] != 0:
            raise TagError("FA152: a tag pushed inside @njit on this thread was never popped; "
                           "pair alloc.push_tag(tid) with alloc.pop_tag() in the same function")
        if not self._frames.released:
            self._switch_rows(ta, stack[-1])
        stack.pop()
        self.deliver_events(stacklevel)

    @contextmanager
    def tag(self, name: str) -> Iterator[int]:
        """``with alloc.tag("physics"):`` attributes the calling thread's allocations in the
        block to the tag (nested blocks give paths); yields the tag id.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     with alloc.tag("physics"):
        ...         a = alloc.frame_array(100, np.float64)
        ...     alloc.stats().tags["physics"].current
        800
        """
        tid = self.push_tag(name)
        try:
            yield tid
        finally:
            self.pop_tag()

    def with_tag(self, name: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Call ``fn(*args, **kwargs)`` inside ``alloc.tag(name)`` and return its result.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.with_tag("audio", lambda: alloc.current_tag)
        'audio'
        """
        if not callable(fn):
            raise error(ST.NOT_CALLABLE, call="with_tag(name, fn, ...)", got=repr(fn),
                        example="with_tag(name, step, x)")
        with self.tag(name):
            return fn(*args, **kwargs)

    # -- budgets -----------------------------------------------------------------------------
    def _budget_name(self, b: int) -> str:
        if b < TAG_BUDGET0:
            return _BUDGET_KINDS[b]
        t = b - TAG_BUDGET0
        if t < self.config.max_tags:
            return f"tag:{self._tag_reg()['names'][t]}"
        slot = t - self.config.max_tags
        ta = self._frames.arenas.get(slot)
        return f"thread:{ta.name if ta is not None else slot}"

    @staticmethod
    def _check_budget_args(soft, hard, on_soft, what: str) -> tuple[int, int]:
        s, h = _check_limit(soft, f"{what} soft"), _check_limit(hard, f"{what} hard")
        if s != NO_LIMIT and h != NO_LIMIT and s > h:
            raise BudgetError(f"FA156: the {what} soft limit ({s}) is above its hard limit ({h})")
        if on_soft is not None and not callable(on_soft):
            raise BudgetError(f"FA156: on_soft must be callable, got {on_soft!r}")
        return s, h

    def _set_budget_row(self, b: int, soft, hard, on_soft, what: str) -> None:
        s, h = self._check_budget_args(soft, hard, on_soft, what)
        self._check_open()
        ta = self._frames.arena()
        reg = self._tag_reg()
        with reg["lock"]:
            row = self._org.budgets[b]
            was = bool(row[B_ACTIVE])
            active = s != NO_LIMIT or h != NO_LIMIT
            if active and not was:
                row[B_USED] = self._scope_live(b)
                row[B_PEAK] = row[B_USED]
            row[B_SOFT], row[B_HARD] = s, h
            row[B_SOFT_FRAME] = -1
            row[B_ACTIVE] = int(active)
            self._org.hdr[H_ACTIVE] = int(self._org.budgets[:, B_ACTIVE].sum())
            if on_soft is None:
                reg["callbacks"].pop(b, None)
            else:
                reg["callbacks"][b] = on_soft
        self._switch_rows(ta, -1)   # this thread's frames lease under the new limits now

    def set_budget(self, soft: int | None = None, hard: int | None = None, *,
                   kind: str = "total", on_soft: Callable[[BudgetEvent], Any] | None = None
                   ) -> None:
        """Limit the live bytes of every allocation (``kind="total"``) or of one kind
        (``"frame"``, ``"pool"``, ``"heap"``, ``"scratch"``). None removes a limit.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.set_budget(hard=1024, kind="frame")
        >>> with alloc.frame():
        ...     _ = alloc.frame_array(128, np.float64)     # exactly 1024 bytes: fine
        ...     alloc.try_frame_array(1, np.uint8) is None  # one byte more: refused
        True
        """
        if kind not in _BUDGET_KINDS:
            raise BudgetError(f"FA156: kind must be one of {_BUDGET_KINDS}, got {kind!r}")
        self._set_budget_row(_BUDGET_KINDS.index(kind), soft, hard, on_soft, kind)

    def set_tag_budget(self, name: str, soft: int | None = None, hard: int | None = None, *,
                       on_soft: Callable[[BudgetEvent], Any] | None = None) -> None:
        """Limit the live bytes of tag ``name`` (a full path) and its descendants, every kind.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.set_tag_budget("ai", hard=4096)
        >>> with alloc.frame(), alloc.tag("ai"):
        ...     _ = alloc.frame_array(4096, np.uint8)
        ...     alloc.try_frame_array(16, np.uint8) is None
        True
        """
        _check_name(name)
        self._check_budget_args(soft, hard, on_soft, f"tag {name!r}")   # before registering it
        tid = self.tag_id(name)
        self._set_budget_row(TAG_BUDGET0 + tid, soft, hard, on_soft, f"tag {name!r}")

    def set_thread_frame_budget(self, soft: int | None = None, hard: int | None = None, *,
                                on_soft: Callable[[BudgetEvent], Any] | None = None) -> None:
        """Limit the calling thread's frame bytes (its prange workers included), per frame.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.set_thread_frame_budget(hard=256)
        >>> with alloc.frame():
        ...     alloc.try_frame_array(257, np.uint8) is None
        True
        """
        slot = self._frames.arena().slot
        self._set_budget_row(TAG_BUDGET0 + self.config.max_tags + slot, soft, hard, on_soft,
                             "thread frame")

    def _reset_thread_budget(self, slot: int) -> None:
        b = TAG_BUDGET0 + self.config.max_tags + slot
        row = self._org.budgets[b]
        if row[B_ACTIVE] or row[B_HARD_HITS] or row[B_SOFT_EVENTS]:
            row[:] = 0
            row[B_SOFT] = row[B_HARD] = NO_LIMIT
            row[B_SOFT_FRAME] = -1
            self._org.hdr[H_ACTIVE] = int(self._org.budgets[:, B_ACTIVE].sum())
            self._tag_reg()["callbacks"].pop(b, None)

    def _kind_live(self) -> list[int]:
        """Live bytes per kind (frame, pool, heap, scratch), as the budgets count them."""
        frame = int(self.frame_live_per_tag().sum())
        sec = self._pools.sections()
        pool = (sec["pool"].current + sec["typed_pools"].current) if sec else 0
        heap = sec["heap"].current if sec else 0
        sc = self._scratch.section().get("scratch")
        scratch = getattr(sc, "current", 0) if sc is not None else 0
        return [frame, pool, heap, scratch]

    def frame_live_per_tag(self, slot: int | None = None) -> np.ndarray:
        """Live frame bytes per tag: this frame's closed segments plus the open ones."""
        mt = self.config.max_tags
        out = np.zeros(mt, np.int64)
        rows = self._frames.rows
        for s, blocks in list(self._orgrows.items()):
            if slot is not None and s != slot:
                continue
            r = rows[s]
            open_ = r["frame_open"] != 0
            if not open_.any():
                continue
            out += blocks[open_, RB_HDR:RB_HDR + mt].sum(axis=0)
            seg = np.where(open_, r["used_before"] + r["cursor"] - r["seg_pos"], 0)
            np.add.at(out, r["tag"], seg)
        return out

    def _scope_live(self, b: int) -> int:
        """Live bytes a budget counts now (used when a budget is switched on)."""
        if b < TAG_BUDGET0:
            kinds = self._kind_live()
            return sum(kinds) if b == 0 else kinds[b - 1]
        t = b - TAG_BUDGET0
        mt = self.config.max_tags
        if t >= mt:
            return int(self.frame_live_per_tag(slot=t - mt).sum())
        frame = self.frame_live_per_tag()
        ctrs = self._org.ctrs
        n = int(self._org.hdr[H_NTAGS])
        total = 0
        for d in range(n):
            a = d
            while a and a != t:
                a = int(self._org.tags[a, T_PARENT])
            if a == t:
                total += int(frame[d]) + int(ctrs[d, 1:, C_CURRENT].sum())
        return total

    # -- events ------------------------------------------------------------------------------
    def deliver_events(self, stacklevel: int = 4) -> None:
        """Run soft-limit callbacks and warnings for events the kernels recorded (FA155
        warnings at ``stacklevel``, counted from this method: 4 is its caller's caller)."""
        reg = self._reg
        if reg is None or int(self._org.hdr[H_EVENTS]) == reg["seen"]:
            return
        with reg["lock"]:
            total = int(self._org.hdr[H_EVENTS])
            start = max(reg["seen"], total - EVENT_CAP)
            fresh = [self._org.events[i % EVENT_CAP].tolist() for i in range(start, total)]
            reg["seen"] = total
            events = []
            for kind, b, used, request, frame, slot in fresh:
                row = self._org.budgets[b]
                soft = kind == EV_SOFT
                limit = int(row[B_SOFT] if soft else row[B_HARD])
                ev = BudgetEvent("soft" if soft else "hard", self._budget_name(b),
                                 limit if limit != NO_LIMIT else -1, used, request, frame, slot)
                events.append((b, ev))
            reg["events"] = (reg["events"] + [e for _, e in events])[-EVENT_CAP:]
            callbacks = dict(reg["callbacks"])
        first = None
        for b, ev in events:
            if ev.kind != "soft":
                continue
            cb = callbacks.get(b)
            if cb is not None:
                cb(ev)
            w = BudgetWarning(
                f"FA155: the {ev.budget} budget passed its soft limit of {ev.limit} bytes "
                f"({ev.used + ev.request} live after a {ev.request}-byte allocation)")
            if self.config.strict:
                first = first or w        # every callback runs first, then the error
            else:
                warn(w, stacklevel=stacklevel)
        if first is not None:
            warn(first, strict=True)

    def budget_refused(self, ta, nbytes: int, try_: bool):
        """A hard budget refused ``nbytes``: None for try_ forms, else FA154 naming it."""
        self.deliver_events()
        if try_:
            return None
        reg = self._tag_reg()
        last = next((e for e in reversed(reg["events"]) if e.kind == "hard"), None)
        what = (f"the {last.budget} budget (hard limit {last.limit} bytes, {last.used} live)"
                if last is not None else "a hard budget")
        raise error(ST.BUDGET_EXCEEDED, budget=what, request=f"{nbytes} more bytes")

    # -- charges of the other kinds ----------------------------------------------------------
    def charge(self, kind: int, nbytes: int, try_: bool = False) -> int | None:
        """Attribute ``nbytes`` of ``kind`` (``layout.KIND_*``) to the calling thread's tag and
        charge the budgets that apply. Returns the tag id to pass to :meth:`release`, or
        None when ``try_`` and a hard budget refuses (BudgetExceededError FA154 otherwise)."""
        try:
            ta = self._tls.arena
        except AttributeError:
            ta = self._frames.attach()
        tag = ta.m[_TAG]
        if tag == 0 and not self._org.mv[H_ACTIVE]:
            ob = ta.ob
            ob[RB_OTHER_BYTES] += nbytes
            ob[RB_OTHER_COUNT] += 1
            return 0
        st, tag = _org_kernels().charge(ta.row_addr, kind, nbytes)
        if st:
            return self.budget_refused(ta, nbytes, try_)
        try:
            self.deliver_events()
        except BaseException:
            self.refund(kind, tag, nbytes)    # a raising soft callback: nothing allocated
            raise
        return tag

    def refund(self, kind: int, tag: int, nbytes: int) -> None:
        """Undo the :meth:`charge` this thread just made when the take failed: counters and
        budgets as before the charge (not a free: see ``kernels.org.refund``)."""
        ta = self._tls.arena                 # charge attached it
        if tag == 0 and not self._org.mv[H_ACTIVE]:
            ob = ta.ob
            ob[RB_OTHER_BYTES] -= nbytes
            ob[RB_OTHER_COUNT] -= 1
            return
        if not self._frames.released or tag:
            _org_kernels().refund(ta.row_addr, kind, tag, nbytes)

    def release(self, kind: int, tag: int, nbytes: int) -> None:
        """Give back what :meth:`charge` took (any thread may call it)."""
        if tag == 0 and not self._org.mv[H_ACTIVE]:
            return
        if not self._frames.released or tag:
            _org_kernels().release(self._org.addr, kind, tag, nbytes)

    def thread_counters(self, ta=None) -> tuple[int, int]:
        """(bytes, allocations) the calling thread has allocated so far, every kind."""
        ta = ta if ta is not None else self._frames.arena()
        rows = self._frames.rows[ta.slot]
        open_ = rows["frame_open"] != 0
        pos = (rows["used_before"] + rows["cursor"]) * open_
        blk = self._orgrows[ta.slot]
        return (int(rows["allocated_total"].sum() + pos.sum() + rows["heap_fallback_bytes"].sum()
                    + blk[:, RB_OTHER_BYTES].sum()),
                int(rows["count_total"].sum() + (rows["count"] * open_).sum()
                    + blk[:, RB_OTHER_COUNT].sum()))

    # -- stats -------------------------------------------------------------------------------
    def sections(self, kind_totals: dict) -> dict:
        """``tags``, ``budgets`` and the budget counters of :class:`~framealloc.AllocStats`.

        ``kind_totals`` maps each kind to (current, allocated, freed, allocations) of the whole
        allocator, so the root tag gets what no tag claimed."""
        self.deliver_events()
        reg = self._tag_reg()
        names = list(reg["names"])
        n = len(names)
        ctrs = self._org.ctrs[:n].copy()
        # Open frame segments are not attributed yet: add them.
        rows = self._frames.rows
        for s in list(self._orgrows):
            r = rows[s]
            for w in np.flatnonzero((r["frame_open"] != 0) & (r["tag"] != 0)).tolist():
                t = int(r["tag"][w])
                if t >= n:
                    continue
                nb = int(r["used_before"][w] + r["cursor"][w] - r["seg_pos"][w])
                nc = int(r["count"][w] - r["seg_count"][w])
                c = ctrs[t, KIND_FRAME]
                c[C_CURRENT] += nb
                c[C_ALLOCATED] += nb
                c[C_COUNT] += nc
                c[C_PEAK] = max(c[C_PEAK], c[C_CURRENT])
        root = np.zeros((KINDS, 6), np.int64)
        for k, name in enumerate(KIND_NAMES):
            cur, alloc_b, freed, count = kind_totals.get(name, (0, 0, 0, 0))
            tagged = ctrs[1:, k].sum(axis=0)
            root[k, C_CURRENT] = cur - tagged[C_CURRENT]
            root[k, C_ALLOCATED] = alloc_b - tagged[C_ALLOCATED]
            root[k, C_FREED] = freed - tagged[C_FREED]
            root[k, C_COUNT] = count - tagged[C_COUNT]
            root[k, C_PEAK] = root[k, C_CURRENT]
        ctrs[0] = root
        tags = {}
        for t, path in enumerate(names):
            c = ctrs[t]
            kinds = {KIND_NAMES[k]: {"current": int(c[k, C_CURRENT]), "peak": int(c[k, C_PEAK]),
                                     "allocated": int(c[k, C_ALLOCATED]),
                                     "freed": int(c[k, C_FREED]),
                                     "allocations": int(c[k, C_COUNT]),
                                     "frees": int(c[k, C_FREES])} for k in range(KINDS)}
            tags[path] = TagStats(path=path, current=int(c[:, C_CURRENT].sum()),
                                  peak=int(c[:, C_PEAK].sum()),
                                  allocated=int(c[:, C_ALLOCATED].sum()),
                                  freed=int(c[:, C_FREED].sum()),
                                  allocations=int(c[:, C_COUNT].sum()),
                                  frees=int(c[:, C_FREES].sum()), kinds=kinds)
        budgets = {}
        b_rows = self._org.budgets
        for b in np.flatnonzero((b_rows[:, B_ACTIVE] != 0) | (b_rows[:, B_HARD_HITS] != 0)
                                | (b_rows[:, B_SOFT_EVENTS] != 0)).tolist():
            row = b_rows[b]
            soft, hard = int(row[B_SOFT]), int(row[B_HARD])
            budgets[self._budget_name(b)] = BudgetStats(
                name=self._budget_name(b), soft=None if soft == NO_LIMIT else soft,
                hard=None if hard == NO_LIMIT else hard,
                current=int(row[B_USED]) if row[B_ACTIVE] else 0, peak=int(row[B_PEAK]),
                soft_events=int(row[B_SOFT_EVENTS]), hard_hits=int(row[B_HARD_HITS]))
        return dict(tags=tags, budgets=budgets,
                    num_budget_hits=int(self._org.hdr[H_HITS]),
                    num_soft_budget_events=int(self._org.hdr[H_SOFT]),
                    budget_events=[e for e in reg["events"]])
