"""Allocator configuration and size helpers."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import ConfigError

__all__ = ["AllocConfig", "BehaviourFilter", "KiB", "MiB", "GiB", "FRAME_POLICIES", "MAX_ALIGN",
           "config_with_options"]

#: Largest alignment a frame allocation may ask for: one page, the largest a NumPy user needs.
MAX_ALIGN = 4096

#: Valid values of :attr:`AllocConfig.on_frame_exhausted`, in the order of their state codes.
FRAME_POLICIES = ("grow", "error", "heap")


def KiB(n: int | float) -> int:
    """``n`` kibibytes in bytes. ``KiB(4) == 4096``."""
    return int(n * 1024)


def MiB(n: int | float) -> int:
    """``n`` mebibytes in bytes. ``MiB(1) == 1048576``."""
    return int(n * 1024 * 1024)


def GiB(n: int | float) -> int:
    """``n`` gibibytes in bytes. ``GiB(1) == 1073741824``."""
    return int(n * 1024 * 1024 * 1024)


#: The behaviour codes and the BehaviourFilter field holding each one's length in frames.
BEHAVIOUR_FIELDS = {
    "FA510": "promotion_frames",
    "FA511": "short_box_frames",
    "FA512": "growth_frames",
    "FA513": "heap_fallback_frames",
    "FA514": "soft_budget_frames",
    "FA515": "scratch_reset_frames",
    "FA516": "typed_growth_frames",
}

#: The behaviours read from the frame history (they need ``AllocConfig.history`` frames).
HISTORY_BEHAVIOURS = ("FA512", "FA513", "FA514")


@dataclass(frozen=True)
class BehaviourFilter:
    """Settings of the behaviour filter (``AllocConfig(behaviour=...)``): which runtime
    patterns are reported as :class:`~framealloc.BehaviourWarning` (FA510-FA516) and after how
    many frames. Each threshold is a length in frames of the thread that shows the pattern; a
    behaviour is reported when it has lasted that long, then at most once per that many frames
    while it goes on. See ``docs/diagnostics.md`` ("Behaviour filter").

    Attributes
    ----------
    check_every:
        Python's ``end_frame`` looks every this many frames of the thread (frames begun and
        ended in @njit code count); ``alloc.check_behaviour()`` and ``alloc.snapshot()`` look
        at once.
    promotion_frames:
        FA510: frames in a row that promoted retained frame allocations.
    short_box_frames:
        FA511: frames in a row in which a pool box was freed in the frame that made it.
    growth_frames:
        FA512: frames in a row whose frame peak was higher than the frame before.
    heap_fallback_frames:
        FA513: frames in a row with a "heap" policy fallback.
    soft_budget_frames:
        FA514: frames in a row that passed a soft budget (at most 256).
    scratch_reset_frames:
        FA515: frames during which a scratch pool was allocated from and never reset.
    typed_growth_frames:
        FA516: frames over which a typed pool's live records grew by at least one per frame.
    ignore:
        Codes not to report, e.g. ``("FA512",)``.

    FA512-FA514 read the frame history, so they need ``AllocConfig.history`` to hold their
    frames (FA513/FA514: that many, FA512: one more); with a shorter history (``history=0``
    included) they are off.

    >>> import framealloc as fa
    >>> cfg = fa.AllocConfig(behaviour=fa.BehaviourFilter(growth_frames=30, ignore=("FA515",)))
    >>> cfg.behaviour.growth_frames, cfg.behaviour.ignore
    (30, ('FA515',))
    """

    check_every: int = 60
    promotion_frames: int = 60
    short_box_frames: int = 60
    growth_frames: int = 120
    heap_fallback_frames: int = 60
    soft_budget_frames: int = 60
    scratch_reset_frames: int = 600
    typed_growth_frames: int = 120
    ignore: tuple = ()

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "ignore":
                continue
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"BehaviourFilter.{f.name} must be an int, got {v!r}",
                                  code="FA013")
            hi = 256 if f.name == "soft_budget_frames" else 1 << 20
            _check_range(f"BehaviourFilter.{f.name}", v, 1, hi, prefix="")
        ignore = self.ignore
        if isinstance(ignore, str):
            ignore = (ignore,)
        try:
            codes = tuple(str(c).strip().upper() for c in ignore)
        except TypeError:
            codes = None
        if codes is None or any(c not in BEHAVIOUR_FIELDS for c in codes):
            raise ConfigError(f"BehaviourFilter.ignore takes behaviour codes "
                              f"({', '.join(BEHAVIOUR_FIELDS)}), got {self.ignore!r}",
                              code="FA013")
        object.__setattr__(self, "ignore", codes)

    def _enabled_codes(self) -> tuple:
        """The codes this filter reports (every FA51x code not in ``ignore``)."""
        return tuple(c for c in BEHAVIOUR_FIELDS if c not in self.ignore)

    def _frames_of(self, code: str) -> int:
        """The length in frames of behaviour ``code`` (``frames_of("FA512") == growth_frames``)."""
        return getattr(self, BEHAVIOUR_FIELDS[code])

    def _history_needed(self, code: str) -> int:
        """Frames of history behaviour ``code`` reads (0: it does not read the history)."""
        if code not in HISTORY_BEHAVIOURS:
            return 0
        return self._frames_of(code) + (code == "FA512")

    def _active_codes(self, history: int) -> tuple:
        """The codes this filter reports with ``AllocConfig.history = history``: the enabled
        ones, less the history behaviours that need more frames than the history keeps.

        >>> BehaviourFilter()._active_codes(history=100)
        ('FA510', 'FA511', 'FA513', 'FA514', 'FA515', 'FA516')
        """
        return tuple(c for c in self._enabled_codes() if self._history_needed(c) <= history)


@dataclass(frozen=True)
class AllocConfig:
    """Sizes and policies of a :class:`~framealloc.SmartAlloc`. Every field has a usable default.

    Attributes
    ----------
    frame_chunk_size:
        Bytes of the first chunk of each thread's frame arena (allocated lazily, on the first frame
        allocation of that thread or prange worker). With the "grow" policy it is only a start.
    frame_capacity:
        With ``on_frame_exhausted="error"``, the most bytes one thread's frame may hold; with
        "grow" and "heap" it is not a limit (see the policies).
    on_frame_exhausted:
        ``"grow"`` (default) chains a bigger chunk; the next ``end_frame`` keeps a single chunk large
        enough for the frame's peak, so a steady loop stops growing. ``"error"`` raises
        :class:`~framealloc.ArenaExhaustedError` (``try_*`` returns None) once the current chunk,
        of ``frame_capacity`` bytes, is full. ``"heap"`` serves the request from a tracked heap
        array, counted in ``stats().frame.heap_fallbacks``.
    max_threads:
        Python threads that may hold a frame arena of this allocator at once.
    max_checkpoints:
        Checkpoints of one frame whose validity is tracked exactly (rounded up to a power of
        two: the stack's size); older ones raise FA010.
    pool_size_classes:
        Block sizes of the size-class pools (``pool_alloc``/``pool_box``/``alloc.pools``) in
        bytes: increasing multiples of 16, at most 32 of them, none above ``pool_page_size``.
        Larger requests go to the tracked heap.
    pool_page_size:
        Bytes of each page of a size class (a multiple of 4096); pages are added when a class
        runs dry and given back by ``trim()``.
    max_tags:
        Tags (``alloc.tag(...)`` paths, nested ones included) one allocator can register; the
        root (untagged) counts as one.
    budget_lease:
        While a budget applies, a thread's frame takes budget bytes this many at a time (fewer
        near a limit), so the allocation hot path stays one compare. Budgets are never exceeded;
        with several threads under one budget, one may be refused while another holds up to this
        many unused bytes.
    history:
        Frames of history each thread keeps (``alloc.history()``, snapshots, the HTML report):
        per frame its bytes, allocations, peak, heap fallbacks, other kinds' bytes, bytes per
        tag and time. Written when a frame ends, from counters the arena keeps anyway; ``0``
        switches it off (see ``docs/diagnostics.md``).
    behaviour:
        The behaviour filter: a :class:`BehaviourFilter` (the default one reports FA510-FA516
        with their default thresholds), or ``None`` to switch it off.
    strict:
        Turn every framealloc warning (:class:`~framealloc.FrameAllocWarning`) this allocator
        issues into an error: the warning is raised as an exception instead of printed.
    debug:
        Debug mode (see ``docs/diagnostics.md``, "Debug mode"): frame memory is poisoned (every
        byte set to ``0xFF``: NaN for floats, -1 for signed ints) when its frame ends or is
        rolled back, from Python and inside ``@njit`` code; frame allocations record where they
        were made; ``end_frame()`` warns (:class:`~framealloc.FrameViewEscapedWarning`, FA021)
        about frame views still referenced, with those sites; FrameVec/FrameMap and frame views
        used from another thread raise FA022. Slow, for finding bugs; off by default, and off
        costs nothing (the checks are a separate class and separately compiled @njit code).

    Example
    -------
    >>> from framealloc import AllocConfig, SmartAlloc, MiB
    >>> cfg = AllocConfig(frame_chunk_size=MiB(4), on_frame_exhausted="error", frame_capacity=MiB(4))
    >>> SmartAlloc(cfg).config.on_frame_exhausted
    'error'
    """

    frame_chunk_size: int = MiB(1)
    frame_capacity: int = MiB(64)
    on_frame_exhausted: str = "grow"
    max_threads: int = 64
    max_checkpoints: int = 64
    pool_size_classes: tuple = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    pool_page_size: int = KiB(64)
    max_tags: int = 64
    budget_lease: int = KiB(64)
    history: int = 600
    strict: bool = False
    debug: bool = False
    behaviour: BehaviourFilter | None = field(default_factory=lambda: BehaviourFilter())

    @property
    def checkpoint_slots(self) -> int:
        """Entries of each checkpoint stack: ``max_checkpoints`` rounded up to a power of two
        (the kernels find a checkpoint's entry with a mask, not a division).

        >>> AllocConfig(max_checkpoints=48).checkpoint_slots
        64
        """
        return 1 << (self.max_checkpoints - 1).bit_length()

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in ("int", int) and (isinstance(v, bool) or not isinstance(v, int)):
                raise ConfigError(f"AllocConfig.{f.name} must be an int, got {v!r}", code="FA013")
        for name in ("strict", "debug"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"AllocConfig.{name} must be True or False, got "
                                  f"{getattr(self, name)!r}", code="FA013")
        if self.on_frame_exhausted not in FRAME_POLICIES:
            raise ConfigError(
                f"AllocConfig.on_frame_exhausted must be one of {FRAME_POLICIES}, "
                f"got {self.on_frame_exhausted!r}", code="FA013")
        _check_range("frame_chunk_size", self.frame_chunk_size, 64, 1 << 46)
        _check_range("frame_capacity", self.frame_capacity, 64, 1 << 46)
        _check_range("max_threads", self.max_threads, 1, 4096)
        _check_range("max_checkpoints", self.max_checkpoints, 1, 1 << 20)
        _check_range("pool_page_size", self.pool_page_size, 4096, 1 << 30)
        _check_range("max_tags", self.max_tags, 2, 4096)
        _check_range("budget_lease", self.budget_lease, 64, 1 << 40)
        _check_range("history", self.history, 0, 1 << 20)
        if self.behaviour is not None and not isinstance(self.behaviour, BehaviourFilter):
            raise ConfigError(f"AllocConfig.behaviour must be a framealloc.BehaviourFilter or "
                              f"None (off), got {self.behaviour!r}", code="FA013")
        if self.pool_page_size % 4096:
            raise ConfigError(f"AllocConfig.pool_page_size must be a multiple of 4096, got "
                              f"{self.pool_page_size}", code="FA013")
        object.__setattr__(self, "pool_size_classes", _check_classes(self.pool_size_classes,
                                                                     self.pool_page_size))

    @property
    def policy_code(self) -> int:
        """The exhaustion policy as the integer stored in the arena state."""
        return FRAME_POLICIES.index(self.on_frame_exhausted)


def config_with_options(config: AllocConfig | None, options: dict[str, Any]) -> AllocConfig:
    """The configuration of ``SmartAlloc(config, **options)``: ``config`` (the defaults when it is
    None) with the fields named in ``options`` replaced, checked like any :class:`AllocConfig`.

    A name that is not an :class:`AllocConfig` field raises :class:`~framealloc.ConfigError`
    (FA013) naming the valid ones.

    >>> config_with_options(None, {"max_threads": 8}).max_threads
    8
    >>> config_with_options(AllocConfig(max_tags=16), {"max_threads": 8}).max_tags
    16
    """
    if config is not None and not isinstance(config, AllocConfig):
        raise ConfigError(f"config must be an AllocConfig, got {type(config).__name__}; or pass "
                          f"the options as keywords: SmartAlloc(max_threads=8)", code="FA013")
    names = [f.name for f in fields(AllocConfig)]
    unknown = [name for name in options if name not in names]
    if unknown:
        hints = [f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
                 for name in unknown
                 for close in [difflib.get_close_matches(name, names, n=1)]]
        raise ConfigError(f"unknown SmartAlloc option{'s' if len(hints) > 1 else ''} "
                          f"{', '.join(hints)}: the options are the AllocConfig fields "
                          f"{', '.join(names)}", code="FA013")
    if config is None:
        return AllocConfig(**options)
    return replace(config, **options) if options else config


def _check_classes(classes, page_size: int) -> tuple:
    """``pool_size_classes`` as a tuple of increasing multiples of 16 within a page."""
    bad = ConfigError(f"AllocConfig.pool_size_classes must be 1 to 32 increasing multiples of 16 "
                      f"between 16 and pool_page_size ({page_size}), got {classes!r}",
                      code="FA013")
    if isinstance(classes, (str, bytes)):
        raise bad
    try:
        out = tuple(classes)
    except TypeError:
        raise bad from None
    if not 1 <= len(out) <= 32 or any(isinstance(c, bool) or not isinstance(c, int)
                                      for c in out):
        raise bad
    if any(c < 16 or c % 16 or c > page_size for c in out) or list(out) != sorted(set(out)):
        raise bad
    return out


def _check_range(name: str, value: int, lo: int, hi: int, prefix: str = "AllocConfig.") -> None:
    if not lo <= value <= hi:
        raise ConfigError(f"{prefix}{name} must be between {lo} and {hi}, got {value}",
                          code="FA013")
