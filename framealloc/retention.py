"""Retention and promotion: frame allocations that may outlive their frame.

A frame allocation made with :meth:`~framealloc.SmartAlloc.frame_retained` is remembered with a
:class:`RetentionPolicy` and, when its frame ends, *before* the frame memory is released:

==================================  ==============================================================
policy                              at the end of the frame
==================================  ==============================================================
``RetentionPolicy.Discard``         nothing (counted as discarded)
``RetentionPolicy.PromoteToPool``   copied into a :class:`~framealloc.PoolBox` (``pool_box``)
``RetentionPolicy.PromoteToHeap``   copied into a tracked heap array (``heap_box``)
``PromoteToScratch(name)``          copied into the scratch pool ``name`` (``try_box``)
==================================  ==============================================================

Every way of ending the frame processes them (``end_frame()``, ``with alloc.frame():`` and
:meth:`~framealloc.SmartAlloc.end_frame_with_promotions`, which also returns the result); the
last result of each thread is ``alloc.last_promotions``. A promotion that fails (budget, too
large, scratch pool missing or full) never raises: it is reported with its true reason in the
:class:`PromotionResult` and the frame still ends. A rollback to a checkpoint taken before a
retained allocation frees it, so it is not promoted (it counts as ``rolled_back``).

Python only: ``frame_retained`` is not available inside ``@njit`` code, and retained allocations
are processed when the frame ends from Python (a frame ended inside ``@njit`` code forgets them).

>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> alloc.begin_frame()
>>> path = alloc.frame_retained(np.float32, fa.RetentionPolicy.PromoteToHeap, shape=4)
>>> path[:] = [1, 2, 3, 4]
>>> result = alloc.end_frame_with_promotions()
>>> result.promoted[0].array.tolist(), result.summary.promoted_heap_bytes
([1.0, 2.0, 3.0, 4.0], 16)
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from ._hooks import AllocPart
from .errors import FrameAllocError
from .kernels.layout import F
from .errors import BudgetExceededError, RetentionError

__all__ = ["RetentionPart", "RetentionPolicy", "Importance", "PromotedAllocation",
           "PromotionFailure", "FailureReasons", "RetentionCounts", "RetentionSummary",
           "PromotionResult"]

_CURSOR, _USED_BEFORE = int(F.cursor), int(F.used_before)
_FRAME_OPEN, _FRAME_NUMBER = int(F.frame_open), int(F.frame_number)
_CP_SERIAL = int(F.cp_serial)

_EXT_KEY = "retention"

#: Failure reasons, in the order of :class:`FailureReasons`.
REASONS = ("budget", "too_large", "out_of_memory", "scratch_missing", "scratch_full", "error")


def _check_scratch_name(name, what: str) -> str:
    if type(name) is not str or not name:
        raise RetentionError(f"{what} needs a scratch pool name, a non-empty str; got {name!r}",
                             code="FA163")
    return name


# -- policies ---------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class RetentionPolicy:
    """What happens to a retained frame allocation when its frame ends.

    Use the constants ``RetentionPolicy.Discard``, ``RetentionPolicy.PromoteToPool``,
    ``RetentionPolicy.PromoteToHeap`` and the constructor
    ``RetentionPolicy.PromoteToScratch(name)``. Policies are immutable, hashable and compare by
    value.

    >>> import framealloc as fa
    >>> fa.RetentionPolicy.PromoteToScratch("nav")
    RetentionPolicy.PromoteToScratch('nav')
    >>> fa.RetentionPolicy.PromoteToPool.destination, fa.RetentionPolicy.Discard.destination
    ('pool', None)
    >>> fa.RetentionPolicy.PromoteToScratch("nav") == fa.RetentionPolicy.PromoteToScratch("nav")
    True
    """

    kind: str                       # "discard", "pool", "heap" or "scratch"
    scratch_name: str | None = None

    Discard: ClassVar["RetentionPolicy"]
    PromoteToPool: ClassVar["RetentionPolicy"]
    PromoteToHeap: ClassVar["RetentionPolicy"]

    _NAMES: ClassVar[dict] = {"discard": "Discard", "pool": "PromoteToPool",
                              "heap": "PromoteToHeap", "scratch": "PromoteToScratch"}

    def __post_init__(self):
        if self.kind not in self._NAMES:
            raise RetentionError(f"unknown retention kind {self.kind!r}; use RetentionPolicy."
                                 "Discard/PromoteToPool/PromoteToHeap/PromoteToScratch(name)",
                                 code="FA163")
        if self.kind == "scratch":
            _check_scratch_name(self.scratch_name, "PromoteToScratch")
        elif self.scratch_name is not None:
            raise RetentionError(f"only PromoteToScratch takes a scratch pool name, not "
                                 f"{self._NAMES[self.kind]}", code="FA163")

    @classmethod
    def PromoteToScratch(cls, name: str) -> "RetentionPolicy":   # noqa: N802 - reads like a variant
        """Promote into the scratch pool ``name`` (``alloc.scratch_pool(name)``) at frame end."""
        return cls("scratch", _check_scratch_name(name, "PromoteToScratch"))

    @property
    def destination(self) -> str | None:
        """``"pool"``, ``"heap"``, ``"scratch"``, or None for Discard."""
        return None if self.kind == "discard" else self.kind

    def __repr__(self) -> str:
        if self.kind == "scratch":
            return f"RetentionPolicy.PromoteToScratch({self.scratch_name!r})"
        return f"RetentionPolicy.{self._NAMES[self.kind]}"

    def __str__(self) -> str:
        return repr(self).split(".", 1)[1]


RetentionPolicy.Discard = RetentionPolicy("discard")
RetentionPolicy.PromoteToPool = RetentionPolicy("pool")
RetentionPolicy.PromoteToHeap = RetentionPolicy("heap")


@dataclass(frozen=True, repr=False)
class Importance:
    """How much a frame allocation matters; a friendlier spelling of a :class:`RetentionPolicy`.

    ``Importance.Ephemeral`` → Discard, ``Importance.Reusable`` → PromoteToPool,
    ``Importance.Persistent`` → PromoteToHeap, ``Importance.Scratch(name)`` →
    PromoteToScratch(name).

    >>> import framealloc as fa
    >>> fa.Importance.Reusable.policy
    RetentionPolicy.PromoteToPool
    >>> fa.Importance.Scratch("ai").policy
    RetentionPolicy.PromoteToScratch('ai')
    """

    level: str                      # "ephemeral", "reusable", "persistent" or "scratch"
    scratch_name: str | None = None

    Ephemeral: ClassVar["Importance"]
    Reusable: ClassVar["Importance"]
    Persistent: ClassVar["Importance"]

    _KINDS: ClassVar[dict] = {"ephemeral": "discard", "reusable": "pool", "persistent": "heap",
                              "scratch": "scratch"}

    def __post_init__(self):
        if self.level not in self._KINDS:
            raise RetentionError(f"unknown importance {self.level!r}; use Importance.Ephemeral/"
                                 "Reusable/Persistent/Scratch(name)", code="FA163")
        if self.level == "scratch":
            _check_scratch_name(self.scratch_name, "Importance.Scratch")
        elif self.scratch_name is not None:
            raise RetentionError("only Importance.Scratch takes a scratch pool name",
                                 code="FA163")

    @classmethod
    def Scratch(cls, name: str) -> "Importance":   # noqa: N802 - reads like a variant
        """Keep the data in the scratch pool ``name`` after the frame."""
        return cls("scratch", _check_scratch_name(name, "Importance.Scratch"))

    @property
    def policy(self) -> RetentionPolicy:
        """The :class:`RetentionPolicy` this importance stands for."""
        return RetentionPolicy(self._KINDS[self.level], self.scratch_name)

    def __repr__(self) -> str:
        if self.level == "scratch":
            return f"Importance.Scratch({self.scratch_name!r})"
        return f"Importance.{self.level.capitalize()}"


Importance.Ephemeral = Importance("ephemeral")
Importance.Reusable = Importance("reusable")
Importance.Persistent = Importance("persistent")


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PromotedAllocation:
    """One retained allocation that now lives outside its frame.

    ``value`` is what the destination returned: a :class:`~framealloc.PoolBox` (pool), a tracked
    ``ndarray`` (heap) or the scratch pool's array (scratch); ``array`` is the data in all cases.
    ``index`` is the order of its ``frame_retained`` call in the frame (0 for the first);
    ``tag``/``phase`` are those current when it was allocated; ``nbytes`` is the array's size.
    """

    index: int
    policy: RetentionPolicy
    destination: str
    value: Any = field(repr=False)
    nbytes: int
    tag: str
    phase: str

    @property
    def array(self) -> np.ndarray:
        """The promoted data as an ndarray (``value.array`` for a PoolBox)."""
        v = self.value
        return v if isinstance(v, np.ndarray) else v.array

    def to_dict(self) -> dict:
        """JSON-ready description (the data itself is left out: shape and dtype describe it)."""
        v = self.value
        a = v if isinstance(v, np.ndarray) else getattr(v, "_array", None)
        return {"index": self.index, "policy": str(self.policy), "destination": self.destination,
                "scratch_name": self.policy.scratch_name, "nbytes": self.nbytes,
                "tag": self.tag, "phase": self.phase,
                "shape": list(a.shape) if a is not None else None,
                "dtype": str(a.dtype) if a is not None else None}


@dataclass(frozen=True)
class PromotionFailure:
    """One retained allocation that could not be promoted; its data was released with the frame.

    ``reason`` is one of ``"budget"`` (a hard budget refused it, FA154), ``"too_large"``
    (beyond the pool's largest size class, or the heap ran out of memory, FA164),
    ``"out_of_memory"`` (the pool could not grow, FA105), ``"scratch_missing"`` (FA165),
    ``"scratch_full"`` (FA166) or ``"error"`` (anything else; ``message`` says what).
    """

    index: int
    policy: RetentionPolicy
    destination: str
    reason: str
    code: str
    message: str
    nbytes: int
    tag: str
    phase: str

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        d = asdict(self)
        d["policy"] = str(self.policy)
        d["scratch_name"] = self.policy.scratch_name
        return d


@dataclass(frozen=True)
class FailureReasons:
    """Failed promotions per true reason (counts, or bytes: see :class:`RetentionCounts`)."""

    budget: int = 0
    too_large: int = 0
    out_of_memory: int = 0
    scratch_missing: int = 0
    scratch_full: int = 0
    error: int = 0

    @property
    def total(self) -> int:
        """Sum over every reason."""
        return sum(asdict(self).values())


@dataclass(frozen=True)
class RetentionCounts:
    """What happened to the retained allocations of one frame (or of one tag/phase in it).

    ``retained = discarded + promoted + failed`` (counts and bytes); ``promoted`` is the sum of
    the pool, heap and scratch parts; ``failures_by_reason`` / ``failed_bytes_by_reason`` split
    ``failed_count`` / ``failed_bytes``. ``rolled_back_*`` are retained allocations freed by a
    checkpoint rollback before the frame ended: they are not part of ``retained``. Bytes are the
    arrays' ``nbytes``.
    """

    retained_count: int = 0
    retained_bytes: int = 0
    discarded_count: int = 0
    discarded_bytes: int = 0
    promoted_count: int = 0
    promoted_bytes: int = 0
    promoted_pool_count: int = 0
    promoted_pool_bytes: int = 0
    promoted_heap_count: int = 0
    promoted_heap_bytes: int = 0
    promoted_scratch_count: int = 0
    promoted_scratch_bytes: int = 0
    failed_count: int = 0
    failed_bytes: int = 0
    failures_by_reason: FailureReasons = field(default_factory=FailureReasons)
    failed_bytes_by_reason: FailureReasons = field(default_factory=FailureReasons)
    rolled_back_count: int = 0
    rolled_back_bytes: int = 0

    @classmethod
    def _count(cls, outcomes: list) -> dict:
        """Field values for ``outcomes``: (status, destination, reason, nbytes) tuples."""
        n = dict.fromkeys(("retained", "discarded", "promoted", "promoted_pool",
                           "promoted_heap", "promoted_scratch", "failed", "rolled_back"), 0)
        b = dict(n)
        rc = dict.fromkeys(REASONS, 0)
        rb = dict(rc)
        for status, dest, reason, nbytes in outcomes:
            if status == "rolled_back":
                n["rolled_back"] += 1
                b["rolled_back"] += nbytes
                continue
            n["retained"] += 1
            b["retained"] += nbytes
            n[status] += 1
            b[status] += nbytes
            if status == "promoted":
                n["promoted_" + dest] += 1
                b["promoted_" + dest] += nbytes
            elif status == "failed":
                rc[reason] += 1
                rb[reason] += nbytes
        out: dict[str, int | FailureReasons] = {}
        for k in n:
            out[k + "_count"] = n[k]
            out[k + "_bytes"] = b[k]
        out["failures_by_reason"] = FailureReasons(**rc)
        out["failed_bytes_by_reason"] = FailureReasons(**rb)
        return out

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class RetentionSummary(RetentionCounts):
    """:class:`RetentionCounts` of a whole frame plus the same counts per tag and per phase
    (keyed by the tag path / phase name current at allocation time; ``""``: none)."""

    by_tag: dict = field(default_factory=dict)
    by_phase: dict = field(default_factory=dict)

    @classmethod
    def from_outcomes(cls, outcomes: list) -> "RetentionSummary":
        """Build from (status, destination, reason, nbytes, tag, phase) tuples."""
        tags: dict = {}
        phases: dict = {}
        for o in outcomes:
            tags.setdefault(o[4], []).append(o[:4])
            phases.setdefault(o[5], []).append(o[:4])
        return cls(**cls._count([o[:4] for o in outcomes]),
                   by_tag={k: RetentionCounts(**cls._count(v)) for k, v in tags.items()},
                   by_phase={k: RetentionCounts(**cls._count(v)) for k, v in phases.items()})


@dataclass(frozen=True, eq=False)
class PromotionResult:
    """What ending one frame did with its retained allocations.

    ``promoted``: :class:`PromotedAllocation` items, ``failed``: :class:`PromotionFailure`
    items, both in ``frame_retained`` order; ``summary``: :class:`RetentionSummary`.

    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> with alloc.frame():
    ...     a = alloc.frame_retained(np.arange(3), fa.RetentionPolicy.PromoteToPool)
    ...     b = alloc.frame_retained(np.float64, fa.RetentionPolicy.Discard)
    >>> r = alloc.last_promotions
    >>> r.summary.promoted_pool_count, r.summary.discarded_count, r.promoted[0].value.array.tolist()
    (1, 1, [0, 1, 2])
    """

    frame: int
    promoted: list
    failed: list
    summary: RetentionSummary

    def to_dict(self) -> dict:
        """JSON-ready dict (promoted data described by shape/dtype, not included)."""
        return {"frame": self.frame, "promoted": [p.to_dict() for p in self.promoted],
                "failed": [f.to_dict() for f in self.failed], "summary": self.summary.to_dict()}


# -- per-thread state -------------------------------------------------------------------------
class _Retained:
    """One retained allocation of the open frame."""

    __slots__ = ("index", "array", "policy", "nbytes", "tag", "phase", "end", "cp_serial")

    def __init__(self, index, array, policy, tag, phase, m):
        self.index = index
        self.array = array
        self.policy = policy
        self.nbytes = int(array.nbytes)
        self.tag = tag
        self.phase = phase
        self.end = _position(m)             # frame position right after the allocation
        self.cp_serial = m[_CP_SERIAL]      # checkpoints with a serial <= this one precede it


class _ThreadRetention:
    """Retention state of one thread (in ``_ThreadArena.ext``)."""

    __slots__ = ("frame", "records", "rolled_back", "next_index", "last", "streak")

    def __init__(self):
        # (last frame that promoted something, frames in a row that did): the behaviour
        # filter's FA510 counter, updated once per frame that promotes.
        self.streak = (-1, 0)
        self.frame = -1
        self.records: list[_Retained] = []
        self.rolled_back: list[_Retained] = []
        self.next_index = 0
        self.last: PromotionResult | None = None

    def start(self, frame: int) -> None:
        """Forget what belonged to another frame (one ended without the Python hooks)."""
        self.frame = frame
        self.records = []
        self.rolled_back = []
        self.next_index = 0


def _position(m) -> int:
    return m[_USED_BEFORE] + m[_CURSOR]


def _is_dtype_spec(x) -> bool:
    """A dtype (np.dtype, a type such as np.float32 or float, or a dtype string) vs a value."""
    return isinstance(x, (np.dtype, type)) or type(x) is str


class RetentionPart(AllocPart):
    """Frame allocations that may outlive their frame, of one SmartAlloc
    (``alloc._retention_part``).

    State: per thread, a ``_ThreadRetention`` in ``ta.ext["retention"]`` (made on the thread's
    first retained allocation). Frame events: ``before_end_frame`` promotes (or discards) the
    frame's retained allocations while they are still live, ``after_rollback`` forgets those a
    rollback freed. It allocates and promotes through the allocator's public API
    (``frame_array``/``frame_box``, ``current_tag``/``current_phase``, ``tag``, ``pools``,
    ``pool_box``, ``heap_box``, ``get_scratch_pool``, ``end_frame``), so a promotion behaves
    exactly as the same calls from user code; it reads the calling thread's arena from the
    frames part.
    """

    def __init__(self, owner, frames):
        self._owner = owner         # weak reference to the SmartAlloc
        self._frames = frames

    # -- allocation --------------------------------------------------------------------------
    def frame_retained(self, value_or_dtype, policy: RetentionPolicy, shape=()) -> np.ndarray:
        """A frame allocation that ``policy`` handles when the frame ends.

        Given a dtype (``np.float32``, ``"f4"``, a structured ``np.dtype``), returns an
        uninitialised frame array of ``shape``; given a value (array, scalar, record), returns a
        frame copy of it (``shape`` must then stay ``()``). Fill the returned array during the
        frame; at the end of the frame its contents are promoted per ``policy`` (see
        :meth:`end_frame_with_promotions`). The tag and phase current now are recorded.

        FA001 outside a frame; FA163 for a bad policy or a shape given with a value; the usual
        FA004–FA008 for bad shapes/dtypes or an exhausted arena. Nothing is remembered when it
        raises. Python only (not inside @njit code).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     grid = alloc.frame_retained(np.int16, fa.RetentionPolicy.PromoteToHeap, (2, 2))
        ...     grid[:] = 7
        >>> alloc.last_promotions.promoted[0].array.tolist()
        [[7, 7], [7, 7]]
        """
        if not isinstance(policy, RetentionPolicy):
            hint = (" (an Importance: use frame_with_importance, or importance.policy)"
                    if isinstance(policy, Importance) else "")
            raise RetentionError(f"policy must be a RetentionPolicy, got {policy!r}{hint}",
                                 code="FA163")
        return self._retain(value_or_dtype, policy, shape)

    def frame_with_importance(self, value_or_dtype, importance: Importance,
                              shape=()) -> np.ndarray:
        """:meth:`frame_retained` with an :class:`Importance` instead of a policy.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     p = alloc.frame_with_importance(np.float64(1.5), fa.Importance.Reusable)
        >>> r = alloc.last_promotions
        >>> r.promoted[0].destination, float(r.promoted[0].array)
        ('pool', 1.5)
        """
        if not isinstance(importance, Importance):
            hint = (" (a RetentionPolicy: use frame_retained)"
                    if isinstance(importance, RetentionPolicy) else "")
            raise RetentionError(f"importance must be an Importance, got {importance!r}{hint}",
                                 code="FA163")
        return self._retain(value_or_dtype, importance.policy, shape)

    def _retain(self, value_or_dtype, policy: RetentionPolicy, shape) -> np.ndarray:
        is_dtype = _is_dtype_spec(value_or_dtype)
        if not is_dtype and not (isinstance(shape, tuple) and shape == ()):
            raise RetentionError(f"shape={shape!r} was given with a value; shape is only for a "
                                 "dtype (a value keeps its own shape)", code="FA163")
        alloc = self._owner()
        ta = self._frames.arena()
        st = ta.ext.get(_EXT_KEY)
        if st is not None and st.records and st.frame == ta.m[_FRAME_NUMBER]:
            self._prune(ta, st)     # before this allocation moves the position again
        tag, phase = alloc.current_tag, alloc.current_phase
        if is_dtype:
            arr = alloc.frame_array(shape, value_or_dtype)
        else:
            arr = alloc.frame_box(value_or_dtype)
        st = self._retention_state(ta)   # the allocation succeeded: a frame is open
        st.records.append(_Retained(st.next_index, arr, policy, tag, phase, ta.m))
        st.next_index += 1
        return arr

    def _retention_state(self, ta) -> _ThreadRetention:
        st = ta.ext.get(_EXT_KEY)
        if st is None:
            st = ta.ext[_EXT_KEY] = _ThreadRetention()
        if st.frame != ta.m[_FRAME_NUMBER]:
            st.start(ta.m[_FRAME_NUMBER])
        return st

    def retained_in_frame(self) -> int:
        """Retained allocations of the calling thread's open frame still waiting for its end
        (rolled-back ones no longer count)."""
        ta = self._frames.arena()
        st = ta.ext.get(_EXT_KEY)
        if st is None or not ta.m[_FRAME_OPEN] or st.frame != ta.m[_FRAME_NUMBER]:
            return 0
        self._prune(ta, st)
        return len(st.records)

    def promotion_streak(self, ta) -> tuple[int, int]:
        """``(last frame of ``ta``'s thread that promoted, how many frames in a row up to it
        did)``; ``(-1, 0)`` before any promotion (the behaviour filter's FA510)."""
        st = ta.ext.get(_EXT_KEY)
        return (-1, 0) if st is None else st.streak

    # -- rollbacks ---------------------------------------------------------------------------
    def after_rollback(self, ta, cp) -> None:
        """The calling thread's frame was rolled back to ``cp``: forget the retained
        allocations it freed, those made after the checkpoint (exact, by checkpoint serial).

        SmartAlloc.rollback_to calls it after a successful rollback.
        """
        st = ta.ext.get(_EXT_KEY)
        if st is None or st.frame != cp.frame or not st.records:
            return
        keep: list[_Retained] = []
        for r in st.records:
            (st.rolled_back if cp.serial <= r.cp_serial else keep).append(r)
        st.records = keep

    def _prune(self, ta, st: _ThreadRetention) -> None:
        """Drop retained allocations that a rollback freed without :meth:`after_rollback`
        being told (a rollback inside @njit code).

        The frame position only goes down through rollbacks, and no checkpoint lies inside an
        allocation, so a position below an allocation's end means a rollback to a checkpoint
        taken before it. Checked whenever retention looks at the frame (each ``frame_retained``,
        ``retained_in_frame``, the end of the frame); a rollback that is followed by new
        allocations past the end before one of those checks goes unnoticed here.
        """
        if not st.records:
            return
        now = _position(ta.m)
        keep: list[_Retained] = []
        for r in st.records:
            (st.rolled_back if now < r.end else keep).append(r)
        st.records = keep

    # -- end of frame ------------------------------------------------------------------------
    def before_end_frame(self, ta) -> None:
        st = ta.ext.get(_EXT_KEY)
        if st is not None:
            fn = ta.m[_FRAME_NUMBER]
            if st.frame == fn and st.next_index:
                self._prune(ta, st)
                records, rolled = st.records, st.rolled_back
                st.start(-1)   # forget first: whatever happens next, nothing is kept twice
                st.last = self._promote(fn, records, rolled)
                if st.last.promoted:
                    last, run = st.streak
                    st.streak = (fn, run + 1 if last == fn - 1 else 1)
            else:
                st.last = None

    def _promote(self, frame: int, records: list, rolled: list) -> PromotionResult:
        outcomes: list[tuple] = []
        promoted: list[PromotedAllocation] = []
        failed: list[PromotionFailure] = []
        for r in rolled:
            outcomes.append(("rolled_back", r.policy.destination, None, r.nbytes, r.tag, r.phase,
                             r.index))
        for r in records:
            pol = r.policy
            dest = pol.destination
            if dest is None:
                outcomes.append(("discarded", None, None, r.nbytes, r.tag, r.phase, r.index))
                continue
            try:
                value, reason, code, msg = self._promote_one(r)
            except Exception as e:  # noqa: BLE001 - a failed promotion is reported, never raised
                value, reason = None, "error"
                code = getattr(e, "code", "")
                msg = f"{type(e).__name__}: {e}"
            if value is not None:
                promoted.append(PromotedAllocation(r.index, pol, dest, value, r.nbytes, r.tag,
                                                   r.phase))
                outcomes.append(("promoted", dest, None, r.nbytes, r.tag, r.phase, r.index))
            else:
                failed.append(PromotionFailure(r.index, pol, dest, reason, code, msg, r.nbytes,
                                               r.tag, r.phase))
                outcomes.append(("failed", dest, reason, r.nbytes, r.tag, r.phase, r.index))
        outcomes.sort(key=lambda o: o[6])
        return PromotionResult(frame, promoted, failed,
                               RetentionSummary.from_outcomes([o[:6] for o in outcomes]))

    def _promote_one(self, r: _Retained) -> tuple:
        """Copy ``r`` to its destination: (value, None, "", "") or (None, reason, code, msg)."""
        kind = r.policy.kind
        src = r.array
        alloc = self._owner()
        if kind == "pool":
            largest = alloc.pools.size_classes[-1]
            if r.nbytes > largest:
                return (None, "too_large", "FA164",
                        f"{r.nbytes} bytes is larger than the pool's largest size class "
                        f"({largest}); use PromoteToHeap for large data")
        try:
            with ExitStack() as scope:
                self._enter_tag(alloc, scope, r.tag)
                if kind == "pool":
                    return alloc.pool_box(src), None, "", ""
                if kind == "heap":
                    return alloc.heap_box(src), None, "", ""
                name = r.policy.scratch_name
                getter = getattr(alloc, "get_scratch_pool", None)
                try:
                    pool = getter(name) if getter is not None else None
                except ValueError as e:     # a name no scratch pool can have
                    pool, why = None, f" ({e})"
                else:
                    why = ""
                if pool is None:
                    return (None, "scratch_missing", "FA165",
                            f"no scratch pool named {name!r}{why}; create it with "
                            f"alloc.scratch_pool({name!r}, capacity) before the frame ends")
                out = pool.try_box(src)
                if out is None:
                    return (None, "scratch_full", "FA166",
                            f"{r.nbytes} bytes do not fit in scratch pool {name!r}")
                return out, None, "", ""
        except BudgetExceededError as e:
            return None, "budget", e.code, str(e)
        except MemoryError as e:
            code = getattr(e, "code", "")
            if kind == "pool":
                return None, "out_of_memory", code or "FA105", str(e)
            if kind == "heap":
                return None, "too_large", "FA164", f"the heap could not hold {r.nbytes} bytes: {e}"
            return None, "scratch_full", "FA166", str(e)

    @staticmethod
    def _enter_tag(alloc, scope: ExitStack, tag: str) -> None:
        """Attribute the promoted copy to the tag of the frame allocation, when the allocator
        can (it has ``tag()`` and no other tag is open at the end of the frame)."""
        if not tag or alloc.current_tag:
            return
        tagger = getattr(alloc, "tag", None)
        if tagger is None:
            return
        try:
            scope.enter_context(tagger(tag))
        except FrameAllocError:
            pass

    # -- results -----------------------------------------------------------------------------
    def end_frame_with_promotions(self) -> PromotionResult:
        """End the calling thread's frame and return what happened to its retained
        allocations (the same object as :attr:`last_promotions` afterwards).

        FA003 without an open frame (nothing changes). Failed promotions do not raise: they are
        in ``result.failed`` and ``result.summary``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.begin_frame()
        >>> big = alloc.frame_retained(np.float64, fa.RetentionPolicy.PromoteToPool, 1000)
        >>> r = alloc.end_frame_with_promotions()
        >>> r.failed[0].reason, r.summary.failed_bytes
        ('too_large', 8000)
        """
        ta = self._frames.arena()
        frame = ta.m[_FRAME_NUMBER]
        self._owner().end_frame()
        st = ta.ext.get(_EXT_KEY)
        if st is None:
            st = ta.ext[_EXT_KEY] = _ThreadRetention()
        if st.last is None:
            st.last = PromotionResult(frame, [], [], RetentionSummary())
        return st.last

    def last_promotions(self) -> PromotionResult | None:
        """The :class:`PromotionResult` of the calling thread's last ended frame; None before
        any frame ended and when ``end_frame()`` ended a frame that retained nothing."""
        st = self._frames.arena().ext.get(_EXT_KEY)
        return None if st is None else st.last
