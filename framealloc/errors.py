"""Exceptions, and the one table of every runtime code: status -> exception, message, explanation.

Every error framealloc raises is a :class:`FrameAllocError` subclass carrying a stable ``FAnnn``
code in ``.code``; ``framealloc.explain(code)`` returns the long explanation with what to do.

One table
---------
A code's number is its :class:`~framealloc.kernels.status.Status` (FA105 is
``Status.POOL_EXHAUSTED == 105``): the kernels return these statuses instead of raising. Each
code has one entry in :data:`CODES`, made by ``_add`` below: the exception class, a short title,
the short message raised (``message``, then ``; todo``: what to do), and the long explanation.
Everything that turns a code into words reads that entry:

* Python: ``raise error(Status.POOL_EXHAUSTED, what="typed pool 'p'")``;
* @njit code: :func:`framealloc.kernels.njit_api.status_raiser` builds the ``raise`` statements of
  a set of statuses from the same entries (constant messages, fields at their defaults);
* :func:`explain` and :func:`all_codes` (static-analysis codes of :mod:`framealloc.lint` are
  merged in on first use).

A message that needs a runtime detail names it as a ``{field}``; the entry gives each field the
default that @njit code shows (``what="the pool"``), and Python passes the detail
(``what="typed pool 'p'"``). One code may carry a few ``cases``: other phrasings of the same code
(``error(Status.BAD_KEY, case="type", key=...)``). Checks that exist only in Python with their own
wording (a bad argument value, say) raise ``SomeError(text, code="FAnnn")`` directly.

Code families (stable; new codes are only ever appended):

======== ======================================================================
FA0xx    frame arenas: frame state, sizes, dtypes, alignment, checkpoints, threads
FA10x-12x pools, heap, typed pools, groups, handles, streaming
FA13x-14x frame collections and layouts
FA15x-17x budgets, tags, phases, scratch pools, retention, thread coordination (runtime)
FA18x    integrations: asyncio task frames, pymunk, esper, Dask (``framealloc.integrations``)
FA2xx    static analysis: threading        (``framealloc.lint``)
FA3xx    static analysis: budgets          (``framealloc.lint``)
FA4xx    GPU memory                         (``framealloc.gpu``; its classes live there)
FA5xx    diagnostics: snapshots, reports, traces (FA50x); behaviour (FA51x)
FA6xx    static analysis: lifetime         (``framealloc.lint``)
FA7xx    static analysis: async            (``framealloc.lint``)
FA8xx    static analysis: architecture/tags (``framealloc.lint``)
======== ======================================================================

Errors raised inside ``@njit`` code carry the same code: numba re-creates the exception from its
message, which always starts with ``"FAnnn: "``; :class:`FrameAllocError` parses it back.

Example
-------
>>> import framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> try:
...     alloc.frame_array(4, "f4")          # no frame is open
... except fa.FrameStateError as e:
...     print(e.code)
FA001
>>> print(fa.explain("FA001").splitlines()[0])
FA001 allocation outside a frame
>>> from framealloc.kernels.status import Status
>>> print(error(Status.POOL_EXHAUSTED, what="typed pool 'p'"))
FA105: typed pool 'p' is exhausted (full under policy 'error', at its slot limit, or out of
memory); create it larger, call reserve(n) from Python, use policy='grow', or use try_acquire()
"""
from __future__ import annotations

import importlib
import re
import warnings

from .kernels.status import CodeInfo, Status

ST = Status

__all__ = [
    "FrameAllocError",
    "FrameStateError",
    "AllocSizeError",
    "UnsupportedDtypeError",
    "AlignmentError",
    "ArenaExhaustedError",
    "CheckpointError",
    "WrongThreadError",
    "ConfigError",
    "NjitUsageError",
    "NotCallableError",
    # pools, heap, typed pools, groups, handles, streaming
    "PoolError", "DoubleFreeError", "ForeignFreeError", "StaleHandleError", "PoolIndexError",
    "PoolExhaustedError", "UseAfterFreeError", "GroupError", "HandleError", "StreamingError",
    "StreamingBudgetError",
    # frame collections and layouts
    "CollectionCapacityError", "CollectionFullError", "CollectionEmptyError",
    "CollectionIndexError", "FrameMapKeyError", "CollectionDtypeError", "CollectionKeyError",
    "CollectionValueError", "LayoutError",
    # tags, budgets, phases, scratch pools, retention
    "TagError", "BudgetError", "BudgetExceededError", "BudgetWarning", "PhaseError",
    "FrameAllocWarning", "SnapshotError", "DiagnosticsError", "FrameViewEscapedWarning",
    "BehaviourWarning",
    "PhaseWarning", "ScratchError", "ScratchFullError", "RetentionError",
    # integrations
    "IntegrationError", "MissingExtraError", "TaskFrameError", "TransparentWarning",
    # the table
    "Status",
    "CodeInfo",
    "CODES",
    "codes_between",
    "message",
    "exception_class",
    "error",
    "explain",
    "all_codes",
]

_CODE_RE = re.compile(r"^(FA\d{3}):\s*")


class FrameAllocError(Exception):
    """Base class of every framealloc error; ``.code`` is its ``FAnnn`` code."""

    default_code = "FA000"

    def __init__(self, message: str = "", code: str | None = None):
        if code is None:
            m = _CODE_RE.match(message)
            code = m.group(1) if m else self.default_code
        if not message.startswith(code):
            message = f"{code}: {message}"
        super().__init__(message)
        self.code = code

    def __reduce__(self):  # picklable across processes and numba's exception path
        return (type(self), (str(self), self.code))


# ---------------------------------------------------------------------------------------------
# FA0xx frame arenas

class FrameStateError(FrameAllocError, RuntimeError):
    """The frame is not in the state the call needs (FA001–FA003)."""

    default_code = "FA001"


class AllocSizeError(FrameAllocError, ValueError):
    """A size or shape is negative, not an integer or too large (FA004, FA005, FA014)."""

    default_code = "FA004"


class UnsupportedDtypeError(FrameAllocError, TypeError):
    """The dtype cannot live in raw arena memory: object, unsized or similar (FA006)."""

    default_code = "FA006"


class AlignmentError(FrameAllocError, ValueError):
    """Alignment is not a power of two, or above the supported maximum (FA007)."""

    default_code = "FA007"


class ArenaExhaustedError(FrameAllocError, MemoryError):
    """The arena (or a budget) cannot serve the request under the configured policy (FA008)."""

    default_code = "FA008"


class CheckpointError(FrameAllocError, RuntimeError):
    """A checkpoint belongs to another allocator, another frame, or was rolled past (FA009,
    FA010)."""

    default_code = "FA010"


class WrongThreadError(FrameAllocError, RuntimeError):
    """An object tied to one thread's arena was used from another thread (FA011)."""

    default_code = "FA011"


class ConfigError(FrameAllocError, ValueError):
    """An :class:`~framealloc.AllocConfig` value is invalid (FA013), or thread slots ran out
    (FA012)."""

    default_code = "FA013"


class NjitUsageError(FrameAllocError, TypeError):
    """A call inside ``@njit`` code that cannot compile: a Python-only method or property (FA016),
    or an argument that must be a compile-time constant there (FA017). Raised when numba compiles
    the function."""

    default_code = "FA016"


class NotCallableError(FrameAllocError, TypeError):
    """A function argument (``speculative(fn)``, ``with_tag(name, fn)``) is not callable (FA018);
    raised before anything changes."""

    default_code = "FA018"


# ---------------------------------------------------------------------------------------------
# FA1xx pools, typed pools, heap, groups, handles, streaming. Like every framealloc error, each is
# also a fitting builtin (``except MemoryError`` catches an exhausted pool).

class PoolError(FrameAllocError, RuntimeError):
    """Base of the errors of pools, typed pools, groups, handles and streaming (FA1xx)."""

    default_code = "FA109"


class DoubleFreeError(PoolError):
    """A pool box, pool slot or typed-pool index was freed/released twice (FA101)."""

    default_code = "FA101"


class ForeignFreeError(PoolError, ValueError):
    """A box or slot of another allocator or pool was given back here (FA102)."""

    default_code = "FA102"


class StaleHandleError(PoolError, LookupError):
    """An index or handle whose slot was released (and maybe reused) since (FA103, FA114)."""

    default_code = "FA103"


class PoolIndexError(PoolError, IndexError):
    """A slot index outside the pool's capacity (FA104)."""

    default_code = "FA104"


class PoolExhaustedError(FrameAllocError, MemoryError):
    """A pool cannot serve the request under its policy, or memory ran out (FA105)."""

    default_code = "FA105"


class UseAfterFreeError(PoolError):
    """A freed :class:`~framealloc.PoolBox` was used (FA108)."""

    default_code = "FA108"


class GroupError(PoolError, LookupError):
    """An allocation group id is unknown or already freed (FA112, FA113)."""

    default_code = "FA112"


class HandleError(PoolError):
    """A relocatable handle is in the wrong pin state for the call (FA115, FA116)."""

    default_code = "FA115"


class StreamingError(PoolError):
    """A streaming asset is unknown, not ready, or fed too much data (FA118–FA120)."""

    default_code = "FA118"


class StreamingBudgetError(FrameAllocError, MemoryError):
    """A streaming reservation cannot fit the budget, even after evictions (FA117)."""

    default_code = "FA117"


# ---------------------------------------------------------------------------------------------
# FA13x frame collections and layouts (``except IndexError`` catches a push on a full FrameVec,
# ``except KeyError`` a missing FrameMap key)

class CollectionCapacityError(FrameAllocError, ValueError):
    """A FrameVec/FrameMap capacity is negative, not an integer, or too large (FA130)."""

    default_code = "FA130"


class CollectionFullError(FrameAllocError, IndexError):
    """A push on a full FrameVec (FA131) or a new key in a full FrameMap (FA134)."""

    default_code = "FA131"


class CollectionEmptyError(FrameAllocError, IndexError):
    """A pop from an empty FrameVec (FA132)."""

    default_code = "FA132"


class CollectionIndexError(FrameAllocError, IndexError):
    """A FrameVec index outside ``0 <= i < len(vec)``; negative ones count from the end (FA133)."""

    default_code = "FA133"


class FrameMapKeyError(FrameAllocError, KeyError):
    """``m[key]`` or ``m.remove(key)`` for a key the FrameMap does not hold (FA135)."""

    default_code = "FA135"

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class CollectionDtypeError(FrameAllocError, TypeError):
    """A dtype a collection cannot use: a FrameMap key dtype that is not an integer, or a
    subarray element dtype (FA136)."""

    default_code = "FA136"


class CollectionKeyError(FrameAllocError, TypeError, ValueError):
    """A FrameMap key that is not an integer or does not fit the map's key dtype (FA137)."""

    default_code = "FA137"


class CollectionValueError(FrameAllocError, TypeError, ValueError):
    """A value that cannot be stored in a collection's element/value dtype (FA139)."""

    default_code = "FA139"


class LayoutError(FrameAllocError, ValueError):
    """A frame layout declaration is malformed: no fields, a bad field name, or a field that is
    not ``(shape, dtype)`` / ``(shape, dtype, align)`` (FA138)."""

    default_code = "FA138"


# ---------------------------------------------------------------------------------------------
# FA15x-16x tags, budgets, phases, scratch pools, retention (thread coordination, FA17x, keeps
# its classes in framealloc.coordination)

class TagError(FrameAllocError, ValueError):
    """A bad tag name or id, too many tags, or unbalanced tag pushes (FA150-FA153, FA157)."""

    default_code = "FA150"


class BudgetError(FrameAllocError, ValueError):
    """Invalid budget arguments (FA156)."""

    default_code = "FA156"


class BudgetExceededError(FrameAllocError, MemoryError):
    """A hard budget refused an allocation (FA154); nothing was allocated or changed."""

    default_code = "FA154"


class FrameAllocWarning(UserWarning):
    """Base class of every framealloc warning: a non-fatal diagnostic, with its FA ``code``.

    Issued with :func:`warnings.warn`, so the usual filters apply
    (``warnings.simplefilter("error", fa.BudgetWarning)``, pytest's ``-W error::...``);
    ``AllocConfig(strict=True)`` raises an allocator's warnings instead (:func:`warn`).

    >>> import warnings, framealloc as fa
    >>> issubclass(fa.BudgetWarning, fa.FrameAllocWarning), fa.BudgetWarning.code
    (True, 'FA155')
    """

    code = ""

    def __init__(self, message: str = "", code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


def warn(warning: "FrameAllocWarning", *, strict: bool = False, stacklevel: int = 2) -> None:
    """Issue ``warning`` (a :class:`FrameAllocWarning`) with :func:`warnings.warn`, or raise it
    when ``strict`` (``AllocConfig.strict``). ``stacklevel`` counts from the caller of this
    function, as :func:`warnings.warn` would from it. Every framealloc warning goes through here.

    >>> import framealloc as fa
    >>> from framealloc.errors import warn
    >>> try:
    ...     warn(fa.BudgetWarning("FA155: over"), strict=True)
    ... except fa.BudgetWarning as e:
    ...     print(e.code)
    FA155
    """
    if not isinstance(warning, FrameAllocWarning):
        raise TypeError(f"framealloc warnings are FrameAllocWarning instances, got "
                        f"{type(warning).__name__}")
    if strict:
        raise warning
    warnings.warn(warning, stacklevel=stacklevel + 1)


class BudgetWarning(FrameAllocWarning):
    """A soft budget was passed (FA155): issued once per frame per budget, after the callback."""

    code = "FA155"


class TransparentWarning(FrameAllocWarning):
    """:func:`framealloc.install_transparent` refused (FA190): numba's internals are not the
    ones transparent frames know, so nothing was changed and scopes do nothing."""

    code = "FA190"


class PhaseError(FrameStateError, ValueError):
    """A phase call that cannot be honoured (FA158): ``begin_phase`` outside a frame or with a bad
    name, ``end_phase`` with no open phase or a name that is not the innermost open phase, or a
    bad ``phase_stats`` argument. Nothing was changed. It is a :class:`~framealloc.FrameStateError`
    (so a ``RuntimeError``) and a ``ValueError``.

    >>> import framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> try:
    ...     alloc.begin_phase("update")
    ... except fa.PhaseError as e:
    ...     print(e.code)
    FA158
    """

    default_code = "FA158"


class FrameViewEscapedWarning(FrameAllocWarning):
    """Debug mode (``AllocConfig(debug=True)``): frame views were still referenced when their
    frame ended (FA021). The message names where each was allocated; their memory was poisoned
    and belongs to the next frame's allocations. Issued after the frame has ended.

    >>> import warnings, numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc(debug=True)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     with alloc.frame():
    ...         kept = alloc.frame_array(2, np.float64)
    >>> caught[0].message.code, kept
    ('FA021', array([nan, nan]))
    """

    code = "FA021"


class PhaseWarning(FrameAllocWarning):
    """A phase was still open when its frame ended (FA159): it was closed there, its record is
    flagged ``open_at_end_frame=True`` and it is not re-opened in the next frame."""

    code = "FA159"


class SnapshotError(FrameAllocError, ValueError):
    """A snapshot file that cannot be read (FA500: not JSON of the snapshot schema; FA501: a
    format version this framealloc does not read). Nothing in the file was executed."""

    default_code = "FA500"


class DiagnosticsError(FrameAllocError, RuntimeError):
    """A diagnostics call that cannot run: an optional package is missing (FA502) or a trace is
    misused (FA503)."""

    default_code = "FA502"


class BehaviourWarning(FrameAllocWarning):
    """The behaviour filter saw a pattern that costs memory or time (FA510-FA516; the code of
    each warning is in ``.code`` and starts its message): promotions every frame, pool boxes
    that live one frame, growth, heap fallbacks, soft budgets passed every frame, a scratch
    pool never reset, a typed pool growing every frame. Configure it with
    ``AllocConfig(behaviour=fa.BehaviourFilter(...))``; see ``docs/diagnostics.md``.

    >>> import framealloc as fa
    >>> issubclass(fa.BehaviourWarning, fa.FrameAllocWarning)
    True
    """

    code = "FA510"

    def __init__(self, message: str = "", code: str | None = None):
        if code is None and re.match(r"FA51\d: ", message):
            code = message[:5]               # the code starts the message
        super().__init__(message, code)


class ScratchError(FrameAllocError, ValueError):
    """A bad scratch pool name, capacity or id (FA160), or too many scratch pools (FA162)."""

    default_code = "FA160"


class ScratchFullError(FrameAllocError, MemoryError):
    """A scratch pool cannot hold the request (FA161); nothing was allocated or changed."""

    default_code = "FA161"


class RetentionError(FrameAllocError, ValueError):
    """A bad retention policy, importance, scratch-pool name or argument (FA163); nothing was
    allocated or remembered."""

    default_code = "FA163"


# ---------------------------------------------------------------------------------------------
# FA18x integrations (framealloc.integrations)

class IntegrationError(FrameAllocError, TypeError, ValueError):
    """An integration (pymunk, esper, Dask) got an object of the wrong kind or a bad value
    (FA180), or a Dask task asked for its worker's allocator where there is none (FA184)."""

    default_code = "FA180"


class MissingExtraError(FrameAllocError, ImportError):
    """The optional package an integration needs is not installed (FA181)."""

    default_code = "FA181"


class TaskFrameError(FrameStateError):
    """``task_frame()`` outside a running asyncio task (FA182), or a second one of the same
    allocator inside one task (FA183)."""

    default_code = "FA182"


# ---------------------------------------------------------------------------------------------
# The table

#: Every runtime code (``"FA105"``) -> its entry, in code order.
CODES: dict[str, CodeInfo] = {}


def _add(status: Status, exception, title: str, explanation: str, message: str = "",
         todo: str = "", cases: dict | None = None, **defaults: str) -> None:
    code = status.code
    assert code not in CODES and status > 0, f"duplicate or negative code {code}"
    cls = exception if isinstance(exception, type) else None
    name = exception.__name__ if cls is not None else (exception or "")
    CODES[code] = CodeInfo(code, title, explanation.strip(), name, message, todo,
                           tuple(defaults.items()), tuple((cases or {}).items()), cls)


_add(ST.NO_FRAME, FrameStateError, "allocation outside a frame", """
A frame allocation was requested while no frame is open on this thread.
Open one first: `alloc.begin_frame()` ... `alloc.end_frame()`, or `with alloc.frame(): ...`.
Inside @njit code, call `alloc.begin_frame()` in the kernel or open the frame in Python before the
call.
Data that must outlive frames belongs in a pool (`pool_alloc`) or on the heap (`heap_array`).""",
     message="frame allocation outside a frame",
     todo="call alloc.begin_frame() first (or use `with alloc.frame():` in Python)")
_add(ST.BEGIN_TWICE, FrameStateError, "begin_frame while a frame is open", """
`begin_frame()` was called twice on the same thread without `end_frame()` in between.
Frames do not nest: end the current frame first. Use `frame_checkpoint()` / `checkpoint_guard()`
for nested scratch scopes inside one frame.""",
     message="begin_frame() while a frame is open on this thread",
     todo="call end_frame() first")
_add(ST.END_NO_BEGIN, FrameStateError, "end_frame without begin_frame", """
`end_frame()` was called on a thread that has no open frame. Each thread has its own frame arena:
a frame begun on another thread must be ended on that thread.""",
     message="end_frame() without begin_frame() on this thread")
_add(ST.BAD_SIZE, AllocSizeError, "bad size", """
A size, count or shape entry is negative or not an integer. Pass non-negative Python/NumPy
integers (NumPy-style: an int or a tuple of ints).""",
     message="negative size or shape entry{got}",
     todo="pass non-negative ints",
     got="", what="shape", shape="something else",
     cases={
         "type": ("{what} must be an int or a tuple of ints, got {shape}",
                  "pass e.g. n or (rows, cols)"),
     })
_add(ST.SIZE_OVERFLOW, AllocSizeError, "size overflow", """
The requested number of bytes overflows (shape product times itemsize beyond 2**47 bytes).
Check the shape; very large buffers belong on the heap (`np.empty`) rather than in a frame.""",
     message="allocation size overflows the 2**47-byte limit of one allocation{size}",
     size="")
_add(ST.BAD_DTYPE, UnsupportedDtypeError, "unsupported dtype", """
The dtype cannot be placed in raw arena memory: object dtypes (they hold Python references),
unsized dtypes such as bare 'S'/'U'/'V', and dtypes that are not NumPy dtypes; or a value given
to a `*box` method does not become one fixed-size array (a ragged nested list such as [1, [2]]).
Use numeric, boolean, datetime, fixed-size string or structured (record) dtypes.""",
     message="{dtype} cannot live in arena memory",
     todo="use a numeric, boolean, datetime, fixed-size string or record dtype",
     dtype="the dtype", what="dtype", ty="of another type",
     cases={
         "argument": ("unsupported {what} argument {ty}",
                      ("pass a NumPy scalar type (np.float32), an np.dtype (numeric or record) "
                       "or a dtype string ('f4')")),
     })
_add(ST.BAD_ALIGN, AlignmentError, "bad alignment", """
`align=` must be a power of two between 1 and 4096 (and is raised to the dtype's natural
alignment if smaller). Example: `alloc.frame_array(n, np.float32, align=64)`.""",
     message="align{value} is not a power of two between 1 and 4096",
     todo="pass e.g. align=64",
     value="")
_add(ST.FRAME_EXHAUSTED, ArenaExhaustedError, "frame arena exhausted", """
The frame arena cannot serve the request: the policy is `on_frame_exhausted="error"` and the
allocation would pass `AllocConfig.frame_capacity`, or a hard budget stops it. Nothing was changed.
Raise `frame_capacity`, use the "grow" (default) or "heap" policy, end frames more often, or use
`try_frame_array(...)`, which returns None instead of raising.""",
     message="frame arena exhausted{request} (on_frame_exhausted='error' or out of memory)",
     todo="raise AllocConfig.frame_capacity, use the 'grow' policy, or use a try_ form",
     request="")
_add(ST.FOREIGN_CHECKPOINT, CheckpointError, "foreign checkpoint", """
The checkpoint was taken on a different SmartAlloc. Checkpoints are only valid on the allocator
(and thread) that made them.""",
     message="checkpoint belongs to another SmartAlloc")
_add(ST.STALE_CHECKPOINT, CheckpointError, "stale checkpoint", """
The checkpoint is no longer valid: it was taken in an earlier frame, an earlier rollback already
went past it, or it is older than the newest `AllocConfig.max_checkpoints` checkpoints of this
frame (rounded up to a power of two). Take a new checkpoint in the current frame.""",
     message=("stale checkpoint: taken in an older frame, already rolled past, or pushed out by "
              "newer checkpoints"),
     call="rollback_to", what="a FrameCheckpoint from alloc.frame_checkpoint()",
     got="something else",
     cases={
         "type": ("{call} takes {what}, got {got}",
                  ""),
     })
_add(ST.WRONG_THREAD, WrongThreadError, "wrong thread", """
A checkpoint (or another per-thread object) made on one thread was used on another thread.
Each thread has its own frame arena; hand data across threads with a transfer handle or a pool.""",
     message="checkpoint made on another thread or prange worker")
_add(ST.TOO_MANY_THREADS, ConfigError, "too many threads", """
More Python threads used this allocator than `AllocConfig.max_threads` thread slots.
Raise `max_threads`; a slot is returned when its thread ends.""")
_add(ST.BAD_CONFIG, ConfigError, "invalid configuration", """
An AllocConfig field has an invalid value (see the message for which one and the allowed range),
or SmartAlloc(**options) got a name that is not an AllocConfig field (the message lists them).""")
_add(ST.BAD_SHAPE, AllocSizeError, "bad shape", """
The shape has too many dimensions (more than 8 inside @njit, 32 from Python) or is not an int or a
tuple of ints.""",
     message="{what} has {ndim} dimensions; at most {most}",
     what="shape", ndim="too many", most="32 (8 inside @njit)")
_add(ST.CLOSED, FrameStateError, "allocator closed", """
The SmartAlloc was closed (`alloc.close()`): every later call raises FA015, from Python and when
the allocator (or one of its pools) is passed into @njit code; only its counters can still be read
(`stats()`). Arrays it handed out stay valid. Compiled calls that were already running on other
threads when it was closed keep working until they return, and the memory is released then.
Create a new SmartAlloc for new work.""",
     message="{what} was closed",
     todo="create a new one",
     what="this SmartAlloc")
_add(ST.PYTHON_ONLY, NjitUsageError, "Python-only call inside @njit", """
A method or property that exists only in Python (`alloc.stats()`, `alloc.tag(...)`, budgets,
phases, `pool.reserve(...)`, ...) was used inside an @njit function; numba refuses it when it
compiles the function. Call it in Python, before or after the @njit call, and pass what the kernel
needs (an int, an array, a tag id from `alloc.tag_id(name)`) in as an argument. The README table
"call (Python and `@njit`)" and docs/ list what works inside @njit.""",
     message="{name} is a Python-only call",
     todo=("call it outside @njit code (in Python, before or after the @njit call) and pass what "
           "the kernel needs in as an argument"),
     name="this method")
_add(ST.NOT_CONSTANT, NjitUsageError, "argument must be a constant inside @njit", """
Inside @njit code some arguments choose what numba compiles, so they must be constants written
in the call: `zero=True` / `zero=False`, and a dtype given as a string ("f4"). Write the constant
in the call, or pass a NumPy type (`np.float32`) instead of a string, or branch in your own code
(`if z: alloc.frame_zeros(...) else: alloc.frame_array(...)`).""",
     message="{what} must be a constant inside @njit{got}",
     todo="write the constant in the call",
     what="this argument", got="")
_add(ST.NOT_CALLABLE, NotCallableError, "not callable", """
A call that runs a function for you (`alloc.speculative(fn, ...)`, `alloc.with_tag(name, fn, ...)`)
got something that is not callable as `fn`. Nothing was changed (no checkpoint taken, no tag
entered). Pass the function itself, not its result: `alloc.speculative(step, x)`, not
`alloc.speculative(step(x))`.""",
     message="{call} takes a function, got {got}",
     todo="pass the function and its arguments: {example}",
     call="this call", got="something else", example="call(step, x)")
_add(ST.IN_GENERATOR, FrameStateError, "allocator in a @njit generator", """
A SmartAlloc, SizeClassPools or TypedPool was used inside a @njit generator function. A suspended
generator keeps the raw addresses it was given without keeping the allocator alive, so it could
resume after the allocator's memory is gone. Allocate in a regular @njit function (it may return
the arrays), or pass the arrays the generator needs.""",
     message="{what} used inside the @njit generator{gen}",
     todo=("a suspended generator does not keep the allocator alive; allocate in a regular @njit "
           "function instead"),
     what="the allocator", gen="")
_add(ST.BAD_ARRAY_ARG, AllocSizeError, "arrays that do not fit the call", """
A frame creation call (`frame_concatenate`, `frame_stack`, `frame_take`, `frame_compress`,
`frame_full`, `frame_arange`, `frame_nonzero`, ...) got arrays it cannot combine, with the rules of
the NumPy function of the same name: shapes that differ where they must match, an axis outside
the arrays' dimensions, an index out of range, a mask longer than the axis with True beyond it, a
step of zero. Nothing was allocated. Check the shapes (`a.shape`) and the axis; indices run from
-n to n - 1.""",
     message="{call}: {problem}",
     todo="{fix}",
     call="the call", problem="the arrays do not fit", fix="check the shapes and the axis")
_add(ST.VIEW_ESCAPED, FrameViewEscapedWarning, "frame view alive at end_frame (debug mode)", """
Debug mode (`AllocConfig(debug=True)`) found frame memory still referenced from Python when
`end_frame()` ran: arrays from `frame_array` and the other frame calls, FrameVec/FrameMap objects,
or (counted, not named) arrays that @njit code allocated in the frame and returned. The frame's
memory was poisoned (every byte 0xFF: NaN in floats, -1 in signed ints) and the next frame's
allocations reuse it, so reading such a view later reads garbage, and writing to it corrupts
someone else's data. The message names each view's dtype and shape and where it was allocated
(Python file:line; for @njit allocations, the functions that allocated in the frame).
Keep nothing from a frame past its end: copy what must survive (`arr.copy()`, `alloc.pool_box`,
`alloc.heap_box`, or `frame_retained` with a promotion policy), and drop the names that hold frame
views (`del view`) before `end_frame()`. A name that still holds a view after a
`with alloc.frame():` block is reported too; if that is deliberate (the view is never read
again), filter the warning: `warnings.simplefilter("ignore", fa.FrameViewEscapedWarning)`.""",
     message="{count} frame view{s} still referenced at end_frame: {views}",
     todo="copy what must outlive the frame (arr.copy(), pool_box, heap_box) and drop the rest",
     count="some", s="s", views="see the sites above")
_add(ST.FOREIGN_THREAD, WrongThreadError, "frame data used from another thread (debug mode)", """
Debug mode (`AllocConfig(debug=True)`) caught frame data of one thread used on another: a
FrameVec or FrameMap method called by a thread other than the one that created it, or a frame
view of another thread's open frame passed to a framealloc call that takes arrays (`frame_copy`,
`frame_box`, `frame_*_like`, `frame_concatenate`, `pool_box`, `heap_box`, ...). Each thread has
its own frame arena: that thread may end its frame at any moment, and then the data is poisoned
and reused. Nothing was changed. Hand data across threads with `alloc.frame_box_for_transfer`,
a pool box or a heap array, or make the collection on the thread that uses it.
What is not checked: plain NumPy operations on a view (indexing, arithmetic), views passed into
@njit code, and views of other threads' frames that live in chunks retired by growth.""",
     message="{what} belongs to thread {owner!s} and was used from thread {here!s}",
     todo="make it on the thread that uses it, or hand data over with frame_box_for_transfer, "
          "pool_box or heap_box",
     what="frame data", owner="another thread", here="this one")
_add(ST.SCOPE_ORDER, CheckpointError, "scope ended out of order", """
A scope (`with alloc.scope():`, or `s = alloc.scope_begin()` ... `alloc.scope_end(s)` in @njit)
was ended while a scope begun inside it was still open. Scopes nest: end the inner one first
(a `with` block does it for you). Nothing was changed: both scopes are still open. Plain
checkpoints taken inside a scope need no end; they end with it.""",
     message="scope ended out of order: a scope begun inside it is still open",
     todo="end the inner scope first (scope_end in reverse order of scope_begin)")
_add(ST.DOUBLE_FREE, DoubleFreeError, "double free", """
A PoolBox was freed twice, or a pool slot / typed-pool index was released while it was not live
(released already, or never acquired). Nothing was changed. Free each allocation exactly once; a
PoolBox also frees itself when it is garbage-collected, so never free it in `__del__`.""",
     message="double release: {slot} of {what} is not live (released already, or never acquired)",
     slot="the slot", what="the pool")
_add(ST.FOREIGN_FREE, ForeignFreeError, "foreign free", """
A PoolBox or slot key was given to an allocator (or pool) that did not hand it out, or a
PoolBox's block was released through a slot key. Free a box with `box.free()` or with the
SmartAlloc that made it; give slot keys back to the pools that made them (keys carry no owner:
another allocator's key is caught only when it names no class here, FA101/FA103 when its block is
not live here).""",
     message="{key} is not a slot key of these size-class pools",
     key="the key")
_add(ST.STALE_HANDLE, StaleHandleError, "stale index or handle", """
The handle's generation does not match the slot: the slot was released (and possibly acquired
again) after the handle was taken. Typed-pool handles (`pool.handle(i)`, `pool.acquire_handle()`)
pack (generation << 32) | index, so stale references are detected instead of silently reading
another particle. Re-acquire, or check `pool.is_alive(handle)` first.""",
     message=("stale handle or index: {slot} of {what} was released (and maybe reused) since, or "
              "never acquired"),
     todo="re-acquire, or check is_alive() first",
     slot="the slot", what="the pool")
_add(ST.SLOT_RANGE, PoolIndexError, "slot index out of range", """
The index (the low 32 bits of a handle) is not below the pool's capacity. Indices come from
`acquire()` / `acquire_many()`; check the value you pass.""",
     message="{slot} is out of range of {what}",
     slot="the slot index", what="the pool", kind="an int", got="something else",
     cases={
         "type": ("{what} must be {kind}, got {got}",
                  "pass what acquire() (acquire_handle(), acquire_many()) returned"),
     })
_add(ST.POOL_EXHAUSTED, PoolExhaustedError, "pool exhausted", """
A typed pool with policy="error" is full (or reached 2**31 - 1 slots), a size class reached its
slot limit, or memory ran out. Nothing was changed. Create the pool with a larger capacity, call
`pool.reserve(n)` from Python, use policy="grow", or use `try_acquire()`, which returns None.""",
     message="{what} is exhausted (full under policy 'error', at its slot limit, or out of memory)",
     todo="create it larger, call reserve(n) from Python, use policy='grow', or use try_acquire()",
     what="the pool")
_add(ST.BAD_POOL_SIZE, AllocSizeError, "bad pool size", """
A capacity, count or byte size is negative, not an integer, or too large (typed pools hold at
most 2**31 - 1 slots). Pass a non-negative int.""",
     message="{name} must be a non-negative int{limit}{got}",
     name="the count", limit="", got="")
_add(ST.VIEW_TOO_BIG, AllocSizeError, "view does not fit the block", """
`pools.view(key, dtype, count)` asked for more bytes than the slot's size class holds, or a
negative count. Acquire a slot of at least `count * dtype.itemsize` bytes.""",
     message="the view{view} does not fit the slot's{block} block",
     todo="ask for at most (block size // itemsize) elements",
     view="", block="", got="something else",
     cases={
         "type": ("view(key, dtype, count): count must be an int, got {got}",
                  "pass a non-negative int"),
     })
_add(ST.USE_AFTER_FREE, UseAfterFreeError, "use after free", """
The PoolBox was freed (by `free()` or its `with` block); its `.array` is gone. Views you took
before freeing stay valid memory: their slot is only reused once they are gone too.""")
_add(ST.POOL_CLOSED, PoolError, "pool closed", """
The pool (or the allocator that owns it) was closed. Views handed out stay valid; create a new
pool for new allocations.""",
     message="{what} was closed",
     todo="create a new one",
     what="the pool")
_add(ST.BAD_POOL_ARG, ConfigError, "invalid pool argument", """
An argument of a pool, group, handle or streaming call has an invalid value (see the message:
e.g. a policy that is not "grow" or "error", a budget that is not a positive int).""")
_add(ST.TOO_BIG_FOR_CLASSES, AllocSizeError, "request larger than the largest size class", """
Inside @njit code the size-class pools only serve requests up to the largest class (4 KiB by
default, `AllocConfig.pool_size_classes`). From Python, larger requests go to the heap
automatically; in @njit code use np.empty, or add a larger class.""",
     message="{request} is larger than the largest size class{largest}",
     todo=("use pool_alloc (heap fallback) or heap_array in Python, np.empty in @njit code, or "
           "add a class to AllocConfig.pool_size_classes"),
     request="the request", largest="")
_add(ST.UNKNOWN_GROUP, GroupError, "unknown group", """
The allocation-group id was not created by this allocator (`alloc.create_group()`).""")
_add(ST.GROUP_FREED, GroupError, "group already freed", """
`free_group()` was already called for this group; its id cannot be used again. Create a new
group.""")
_add(ST.STALE_RELOCATABLE, StaleHandleError, "stale relocatable handle", """
The relocatable handle was freed (its generation no longer matches), or never came from this
handle heap. Handles stay valid across `compact()`; only `free()` ends them.""")
_add(ST.NOT_PINNED, HandleError, "handle not pinned", """
`unpin()` was called more times than `pin()` for this handle. Pins nest: unpin once per pin.""")
_add(ST.PINNED, HandleError, "handle is pinned", """
A pinned relocatable handle cannot be freed: unpin it first (pins nest).""")
_add(ST.STREAMING_BUDGET, StreamingBudgetError, "streaming budget cannot be met", """
The reservation does not fit the streaming budget even after evicting every asset that may be
evicted (ready assets of lower or equal priority, least recently used first). Nothing was evicted.
Raise the budget, release assets, or reserve with a higher priority.""")
_add(ST.ASSET_NOT_READY, StreamingError, "streaming asset not ready", """
`access()` was called before the asset was fully loaded. Feed it with `feed()` until
`is_ready(asset)` is True (`progress(asset)` tells how far it is).""")
_add(ST.UNKNOWN_ASSET, StreamingError, "unknown or evicted streaming asset", """
The asset id is unknown, was released, or was evicted under budget pressure (the eviction
callback told you). Reserve and load it again.""")
_add(ST.TOO_MUCH_DATA, StreamingError, "too much streaming data", """
`feed()` got more bytes than the asset reserved. Reserve the full size up front.""")
_add(ST.BAD_CAPACITY, CollectionCapacityError, "bad collection capacity", """
The capacity given to `frame_vec(dtype, capacity)` or `frame_map(key_dtype, value_dtype, capacity)`
is negative, not an integer, or so large that the collection would exceed 2**47 bytes.
Pass a non-negative Python/NumPy integer: the most elements (FrameVec) or keys (FrameMap) the
collection must hold in this frame. Nothing was allocated.""",
     message=("collection capacity must be a non-negative int within the 2**47-byte limit of one "
              "frame allocation{got}"),
     got="")
_add(ST.VEC_FULL, CollectionFullError, "FrameVec is full", """
`push` (or `extend`) on a FrameVec that holds `capacity` elements already. A FrameVec never grows:
its storage is one frame allocation. Create it with a larger capacity, check `vec.is_full`
first, or use `try_push`, which returns False instead of raising. The vec is unchanged.""",
     message="FrameVec is full{room}",
     todo="create it with a larger capacity or use try_{op}",
     room="", op="push")
_add(ST.VEC_EMPTY, CollectionEmptyError, "FrameVec is empty", """
`pop` on an empty FrameVec. Check `len(vec)` first, or use `try_pop`, which returns None.""",
     message="pop from an empty FrameVec",
     todo="check len(vec) or use try_pop")
_add(ST.VEC_INDEX, CollectionIndexError, "FrameVec index out of range", """
`vec[i]` with `i` outside `0 <= i < len(vec)` (negative indices count from the end, as for lists).
Indices at or past `len(vec)` are out of range even below the capacity: push elements first.""",
     message="FrameVec index{index} out of range{length}",
     index="", length="",
     cases={
         "type": ("FrameVec indices are integers, got {index}",
                  ""),
     })
_add(ST.MAP_FULL, CollectionFullError, "FrameMap is full", """
`insert` of a new key into a FrameMap that holds `capacity` keys already. Updating a key the map
holds never fails. Create the map with a larger capacity, or use `try_insert`, which returns
False instead of raising. The map is unchanged.""",
     message="FrameMap is full{cap} and {key} is new",
     todo="create it with a larger capacity or use try_insert",
     cap="", key="the key")
_add(ST.KEY_MISSING, FrameMapKeyError, "key not in FrameMap", """
`m[key]` or `m.remove(key)` for a key the map does not hold. Use `m.get(key, default)`,
`key in m` / `m.contains(key)`, or `m.try_remove(key)`, which returns False.""",
     message="{key} is not in the FrameMap",
     todo="use get(key, default), `key in m` or try_remove",
     key="the key")
_add(ST.BAD_COLLECTION_DTYPE, CollectionDtypeError, "unsupported collection dtype", """
FrameMap keys must have an integer dtype (int8 ... uint64): they are hashed as integers. Map a
float, string or record key to an integer first (e.g. a grid cell `ix * ny + iy`).
Collection elements and map values may be any fixed-size NumPy dtype (numeric, bool, datetime,
record) except subarray dtypes such as `('f4', 3)`: use a record dtype with a subarray field
(`[('v', 'f4', 3)]`) instead. Object and unsized dtypes raise FA006.""",
     message="{dtype} is a subarray dtype",
     todo="use a record dtype with a subarray field{example}",
     dtype="the dtype", example="",
     cases={
         "key": ("FrameMap keys must have an integer dtype (int8 ... uint64), got {dtype}",
                 "map other keys to integers first"),
     })
_add(ST.BAD_KEY, CollectionKeyError, "bad FrameMap key", """
A FrameMap key is not an integer (Python int or NumPy integer scalar; floats and bools are not
accepted) or does not fit the map's key dtype (e.g. 300 in a uint8-keyed map, -1 in an unsigned
one). Inside @njit the key must have an integer type. The map is unchanged.""",
     message="{key} does not fit the FrameMap's key dtype{dtype}",
     key="the key", dtype="",
     cases={
         "type": ("FrameMap keys are integers, got {key}",
                  "pass an int or a NumPy integer"),
     })
_add(ST.BAD_LAYOUT, LayoutError, "bad frame layout", """
`alloc.frame_layout(...)` needs at least one field, each given as `name=(shape, dtype)` or
`name=(shape, dtype, align)`, with names that are identifiers not starting with an underscore.
Shapes, dtypes and alignments are checked like `frame_array`'s (FA004, FA005, FA006, FA007,
FA014).""")
_add(ST.BAD_VALUE, CollectionValueError, "value does not fit the collection's dtype", """
A value pushed into a FrameVec or inserted into a FrameMap cannot be converted to the
collection's element/value dtype (NumPy's assignment rules decide, e.g. a string into a float
vec). The collection is unchanged.""",
     message="cannot store {value} as {dtype}{why}",
     value="the value", dtype="the collection's dtype", why="")
_add(ST.BAD_TAG_NAME, TagError, "bad tag name", """
A tag name must be a non-empty str of printable characters without "::" at either end, and a
path at most 16 levels deep; nesting
`alloc.tag("a")` inside `alloc.tag("b")` gives the path "b::a", and a path can also be spelled
in one go (`alloc.tag("physics::broadphase")`).""")
_add(ST.TOO_MANY_TAGS, TagError, "too many tags", """
More distinct tag paths than `AllocConfig.max_tags` (the root counts as one) were registered
on this allocator. Reuse tag names (a tag is a category, not an object id) or raise
`max_tags`.""")
_add(ST.TAG_UNBALANCED, TagError, "unbalanced tag", """
`pop_tag()` without a matching `push_tag()` on this thread (or inside @njit on this worker), a
tag stack deeper than 16 inside @njit, or a Python tag block closed while a tag pushed inside
@njit was still open. Pair every push with a pop; prefer `with alloc.tag(name):` in Python.""",
     message=("unbalanced tag: pop_tag() without push_tag(), or more than 16 nested tags inside "
              "@njit"))
_add(ST.TAG_UNKNOWN, TagError, "unknown tag id", """
An integer tag id that this allocator never returned from `alloc.tag_id(name)` was pushed.
Get ids once in Python with `alloc.tag_id("physics")` and pass them to @njit code.""",
     message="unknown tag id{tag}",
     todo="get ids with alloc.tag_id(name) in Python",
     tag="")
_add(ST.BUDGET_EXCEEDED, BudgetExceededError, "hard budget exceeded", """
The allocation would take a budget's live bytes past its hard limit (the message names the
budget: total, a kind, a tag or a thread's frames). Nothing was allocated and no state changed.
Free memory (end the frame, release pool slots, reset scratch pools), raise the limit with
`set_budget`/`set_tag_budget`/`set_thread_frame_budget`, or use a `try_` form, which returns
None instead of raising.""",
     message="{budget} refuses {request} (see alloc.stats().budgets)",
     todo="free memory, raise the limit, or use a try_ form",
     budget="a hard budget", request="this allocation")
_add(ST.SOFT_BUDGET, BudgetWarning, "soft budget passed", """
An allocation took a budget's live bytes past its soft limit. The allocation succeeded; the
budget's callback ran and this warning is issued once per frame per budget. Look at
`alloc.stats().budgets` and `alloc.stats().tags` to see where the memory goes.""")
_add(ST.BAD_BUDGET, BudgetError, "bad budget", """
Budget limits must be ints >= 0 (or None for no limit) with soft <= hard, and the scope must
exist: a kind among total/frame/pool/heap/scratch, or a tag name.""")
_add(ST.TAG_LOG_FULL, TagError, "too many tag switches under a checkpoint", """
While a frame checkpoint is live, every tag switch is logged so that a rollback can give each
tag its bytes back; the log holds 128 switches per thread. Commit or roll back the checkpoint
(or take it inside the tag) before switching tags that often.""",
     message="more than 128 tag switches while a frame checkpoint is live",
     todo="commit or roll back the checkpoint first")
_add(ST.BAD_PHASE, PhaseError, "bad phase call", """
A phase call could not be honoured, and nothing was changed:
* `begin_phase(name)` / `with alloc.phase(name):` outside a frame: phases belong to the calling
  thread's open frame; call `alloc.begin_frame()` (or use `with alloc.frame():`) first;
* a bad name: a phase name is a non-empty str of printable characters without "::" (nesting
  makes the path: "physics" inside "update" is "update::physics");
* `end_phase()` on a thread with no open phase (phases are per thread, and every phase is closed
  when its frame ends), or `end_phase(name)` where `name` is not the innermost open phase (end
  the inner phases first; prefer `with alloc.phase(name):`, which always pairs them);
* `phase_stats(frame=...)` with something other than "last", "current" or "all".
Phases are Python-level: begin and end them around @njit calls, not inside @njit code.""")
_add(ST.PHASE_OPEN_AT_END, PhaseWarning, "phase open at end_frame", """
`end_frame()` ran while phases were still open on this thread. They were closed at that point
(bytes, allocations and wall time up to the end of the frame), their records in
`alloc.phase_stats()` carry `open_at_end_frame=True`, and they are not re-opened in the next
frame. The same warning is issued when a `with alloc.phase(...)` block exits while phases begun
inside it with `begin_phase` are still open (they are closed with the block). Pair every
`begin_phase` with an `end_phase` in the same frame, or use `with alloc.phase(name):`.""")
_add(ST.BAD_SCRATCH, ScratchError, "bad scratch pool name, capacity or id", """
`alloc.scratch_pool(name, capacity)` needs a name that is a non-empty printable str of at most
128 characters and, to create the pool, a capacity in bytes that is an int between 1 and 2**47.
A name that does not exist yet needs a capacity; a name that exists must be asked for with no
capacity or with the capacity it was created with (pools never resize: pick another name, or
reuse the existing pool). Ids passed to `alloc.scratch_array(sid, ...)` (Python or @njit) must
be `pool.id` of a scratch pool of that same allocator. Nothing was changed.""",
     message="{sid} is not the id of a scratch pool of this allocator",
     todo=("pass pool.id of a pool made by alloc.scratch_pool(name, capacity) on the same "
           "SmartAlloc"),
     sid="the id", name="this name",
     cases={
         "name": ("no scratch pool named {name} yet",
                  "pass a capacity to create it"),
     })
_add(ST.SCRATCH_FULL, ScratchFullError, "scratch pool full", """
The scratch pool has too few bytes left for the request (alignment padding included), or its
memory could not be allocated when it was created. Nothing was allocated or changed. Call
`pool.reset()` when the data in it is no longer needed (scratch pools are only emptied by
`reset()`, never by `end_frame()`), create the pool with a larger capacity under another name,
or use a `try_` form (`pool.try_array`, `alloc.try_scratch_array`), which returns None.""",
     message="scratch pool{name} is full{usage}",
     todo="reset() it, create a larger pool, or use a try_ form",
     name="", usage="")
_add(ST.TOO_MANY_SCRATCH, ScratchError, "too many scratch pools", """
An allocator holds at most 256 scratch pools, and at most 16384 allocators in one process hold
scratch pools at the same time. Scratch pools are named, long-lived arenas: reuse them by name
(`alloc.scratch_pool("physics")` returns the existing pool) instead of creating one per object,
and close allocators you no longer use (`alloc.close()`).""")
_add(ST.BAD_RETENTION, RetentionError, "bad retention argument", """
`frame_retained(value_or_dtype, policy, shape=())` needs a RetentionPolicy
(`RetentionPolicy.Discard`, `.PromoteToPool`, `.PromoteToHeap` or
`RetentionPolicy.PromoteToScratch("name")`), and `frame_with_importance` an Importance
(`Importance.Ephemeral`, `.Reusable`, `.Persistent` or `Importance.Scratch("name")`). A scratch
pool name is a non-empty str. `shape` is only for a dtype: to retain a copy of a value, pass the
value alone (its shape is its own). Nothing was allocated or remembered.""")
_add(ST.PROMOTE_TOO_BIG, "", "retained allocation too large to promote", """
A PromoteToPool allocation is larger than the pool's largest size class
(`alloc.pools.size_classes[-1]`, 4 KiB by default); it is not moved to the heap behind your back.
Or the heap could not hold a PromoteToHeap copy (out of memory). Use PromoteToHeap (or
`Importance.Persistent`) for large data, add a larger class to
`AllocConfig.pool_size_classes`, or retain less. The frame ended normally; the data was not
promoted (see `result.failed`).""")
_add(ST.PROMOTE_NO_SCRATCH, "", "scratch pool missing for promotion", """
A PromoteToScratch(name) allocation reached the end of its frame but this allocator has no
scratch pool of that name. Create it before the frame ends (`alloc.scratch_pool(name)`); names
are case-sensitive. The frame ended normally; the data was not promoted (see
`result.failed`).""")
_add(ST.PROMOTE_SCRATCH_FULL, "", "scratch pool full for promotion", """
A PromoteToScratch(name) allocation did not fit in the remaining space of that scratch pool.
Give the pool more room, `reset()` it when its contents are no longer needed, or promote to the
heap instead. The frame ended normally; the data was not promoted (see
`result.failed`).""")
_add(ST.BARRIER_TIMEOUT, "BarrierTimeoutError", "frame barrier timeout", """
A thread waited longer than its timeout in `FrameBarrier.wait_all()`: not every party signalled
the frame. The barrier is now broken so that no other thread hangs; find the thread that did not
reach the barrier (an exception, an early exit), then call `barrier.reset()` to reuse it.""")
_add(ST.BARRIER_BROKEN, "BrokenFrameBarrierError", "frame barrier broken", """
The FrameBarrier was broken by another thread's timeout or by `abort()`, so waiting on it would
never finish. Call `barrier.reset()` once every party has stopped waiting.""")
_add(ST.SIGNALLED_TWICE, "BarrierError", "frame signalled twice", """
A thread called `signal_frame_complete()` twice for the same frame. Call `wait_all()` (or use
`arrive_and_wait()`) before signalling the next frame.""")
_add(ST.RECEIVED_TWICE, "TransferError", "transfer received twice", """
`TransferHandle.receive()` was called a second time. A transfer moves data to exactly one
receiver; make one handle per receiver with `alloc.frame_box_for_transfer(arr)`.""")
_add(ST.TRANSFER_DROPPED, "TransferError", "transfer dropped", """
`TransferHandle.receive()` was called after `drop()` released the data. Receive before dropping,
or do not drop a handle another thread still expects.""")
_add(ST.BAD_BARRIER, "BarrierError", "bad barrier size or timeout", """
`FrameBarrier(parties)` needs an int >= 1: the number of threads that meet every frame. A
`timeout` (of the barrier or of a wait) is None (wait for ever) or a number of seconds >= 0;
a refused wait counts no signal.""")
_add(ST.GPU_BAD_SIZE, "gpu.GpuSizeError", "bad GPU allocation size", """
A GPU allocation size is zero, negative, not an integer, or larger than the device allows
(maxBufferSize, maxMemoryAllocationSize, or the size of every compatible memory heap).
Pass a positive Python/NumPy integer number of bytes, e.g. `gpu.allocate_persistent(arr.nbytes)`.
Split data larger than a heap into several allocations.""")
_add(ST.GPU_BAD_ALIGN, "gpu.GpuAlignmentError", "bad GPU alignment", """
`alignment=` must be 0 (the default: the device's limits decide) or a power of two no larger
than 65536. The allocator already honours the device's buffer offset alignments for the usage
flags you pass; only ask for more when your own data layout needs it.""")
_add(ST.GPU_BAD_USAGE, "gpu.GpuUsageError", "impossible intent/usage combination", """
The intent, lifetime and usage flags do not describe a buffer that can exist: usage is empty or
has unknown bits, a Staging (upload) buffer lacks TRANSFER_SRC, a Readback buffer lacks
TRANSFER_DST, or an intent/lifetime value is not a GpuMemoryIntent/GpuLifetime.
Pass `usage=None` to get the intent's default usage, or add the missing BufferUsage flag.""")
_add(ST.GPU_NO_MEMORY_TYPE, "gpu.GpuUnsupportedError", "no compatible GPU memory type", """
None of the device's memory types both accepts the buffer (its memoryTypeBits) and has the
properties the intent requires (for Staging, Readback and Dynamic: HOST_VISIBLE).
Use another intent (DeviceLocal plus `upload()`/`readback()` works on every device), or check
`gpu.device_info().memory_types` to see what this device offers.""")
_add(ST.GPU_OUT_OF_MEMORY, "gpu.GpuOutOfMemoryError", "GPU out of memory", """
The device returned VK_ERROR_OUT_OF_DEVICE_MEMORY / OUT_OF_HOST_MEMORY for every compatible
memory type, or the allocator reached its cap on live device-memory objects
(GpuConfig.max_memory_allocations, kept far below the device's maxMemoryAllocationCount).
Nothing was changed and the allocator stays usable. Free persistent allocations, end frames so
frame memory is recycled, lower frames_in_flight, or use smaller buffers. `try_allocate()`
returns None instead of raising.""")
_add(ST.GPU_BUDGET_EXCEEDED, "gpu.GpuBudgetExceededError", "GPU hard budget exceeded", """
Creating device memory for this request would pass a hard budget: the global or per-heap hard
limit of GpuConfig.budget, or the heap's device budget (VK_EXT_memory_budget where available,
otherwise a fraction of the heap size). Nothing was changed.
Free memory, raise the budget (GpuBudget(hard=...)), or use `try_allocate()` to get None.""")
_add(ST.GPU_SOFT_BUDGET, "gpu.GpuBudgetWarning", "GPU soft budget crossed", """
Device memory reserved by the allocator passed a soft budget (global or per heap). This is a
warning (GpuBudgetWarning, category of warnings.warn) and the `on_soft` callback of GpuBudget
is called once per crossing; the allocation succeeded. Turn it into an error with
`warnings.simplefilter("error", GpuBudgetWarning)`.""")
_add(ST.GPU_NOT_MAPPABLE, "gpu.GpuNotMappableError", "GPU memory not host-accessible", """
`host_array()`, `flush()` or `invalidate()` was called on an allocation whose intent does not
give host access. DeviceLocal memory is never mapped (even on devices where it happens to be
host-visible) so that code behaves the same on every GPU. Use `gpu.upload(dst, array)` /
`gpu.readback(src)`, or allocate with intent Staging, Readback or Dynamic.""")
_add(ST.GPU_STALE, "gpu.GpuStaleAllocationError", "stale GPU allocation", """
The allocation was freed, its frame was recycled (a Frame allocation lives until the GPU has
finished the frame it was made in: `frames_in_flight` frames later), or its allocator was closed.
Allocate again in the current frame, or use lifetime Persistent for data that must last.
Host arrays made before the allocation went stale still point at the (reused) memory: drop them.""")
_add(ST.GPU_DOUBLE_FREE, "gpu.GpuDoubleFreeError", "GPU double free or foreign free", """
The allocation was already freed, or it belongs to another allocator, or it is a Frame
allocation (frame memory is released by end_frame, not one by one). Free each Persistent or
Transient allocation exactly once, on the allocator that made it.""")
_add(ST.GPU_FRAME_STATE, "gpu.GpuFrameStateError", "GPU frame state", """
A Frame allocation was requested with no frame open, `begin_frame()` was called twice, or
`end_frame()` was called without `begin_frame()`. Use `with gpu.frame(): ...` or pair the calls.
Persistent and Transient allocations, upload() and readback() also work outside frames.""")
_add(ST.GPU_TRANSFER, "gpu.GpuTransferError", "GPU transfer impossible", """
An upload, readback or copy cannot be done: the range falls outside the allocation, the array
is not C-contiguous bytes-compatible or is larger than the destination, the destination lacks
BufferUsage.TRANSFER_DST (or the source lacks TRANSFER_SRC), or the staging buffer is stale.
The message names the problem; nothing was recorded. framealloc never skips a transfer silently.""")
_add(ST.GPU_CALL_FAILED, "gpu.GpuDeviceError", "Vulkan call failed", """
A Vulkan call returned an unexpected error (the message names the call and the VkResult), for
example VK_ERROR_DEVICE_LOST. Run with the validation layer
(`GpuAllocator.vulkan(validation=True)`) to find the cause; after a lost device, close the
allocator and create a new one.""")
_add(ST.GPU_UNAVAILABLE, "gpu.GpuUnavailableError", "no Vulkan device", """
The Vulkan backend cannot start: the Python package `vulkan` is not installed
(`pip install framealloc[vulkan]`), the Vulkan loader (libvulkan1) is missing, no driver exposes
a device (install mesa-vulkan-drivers for the CPU device lavapipe: scripts/install-vulkan.sh),
or a requested layer/extension is absent. `GpuAllocator.null()` runs the same API in host
memory.""")
_add(ST.GPU_BAD_VIEW, "gpu.GpuViewError", "bad host array view", """
`allocation.host_array(shape, dtype, offset=)` does not fit: the view would pass the end of the
allocation, the offset is negative or misaligned for the dtype, or the dtype is an object or
unsized dtype. Ask for a smaller shape, or allocate `np.prod(shape) * dtype.itemsize` bytes.""")
_add(ST.GPU_TIMEOUT, "gpu.GpuTimeoutError", "GPU fence timeout", """
The GPU did not finish a frame (or a readback) within GpuConfig.fence_timeout_s. Frame memory is
recycled only after the GPU has finished with it, so the allocator waited and gave up; nothing was
recycled and the allocator stays usable. Check that work you submitted can complete (for example
that semaphores it waits on get signalled), or raise the timeout.""")
_add(ST.GPU_BAD_CONFIG, "gpu.GpuConfigError", "invalid GPU configuration", """
A GpuConfig or GpuBudget value is invalid (the message says which one and the allowed range),
for example a block size that is not a power of two, frames_in_flight below 1, or a soft budget
above the hard one.""")
_add(ST.UNIFIED_BUDGET_EXCEEDED, "gpu.UnifiedBudgetExceededError",
     "unified CPU+GPU hard budget exceeded", """
UnifiedAllocator: the CPU bytes held by the SmartAlloc plus the GPU bytes held by the GPU
allocator plus this request would pass the unified hard budget. Nothing was allocated.
End frames, free memory, or raise UnifiedBudget(hard=...).""")
_add(ST.UNIFIED_SOFT_BUDGET, "gpu.UnifiedBudgetWarning", "unified CPU+GPU soft budget crossed", """
UnifiedAllocator: CPU plus GPU usage passed the unified soft budget. This is a warning
(UnifiedBudgetWarning) and the budget's `on_soft` callback is called once per crossing.""")

# -- FA5xx runtime diagnostics -------------------------------------------------------------------
_add(ST.BAD_SNAPSHOT, SnapshotError, "not a framealloc snapshot", """
`Snapshot.load(path)` / `Snapshot.from_json(text)` read a file that is not a snapshot: not UTF-8
JSON, larger than 256 MiB, or JSON that does not match the shipped schema
(`framealloc/schemas/snapshot-1.schema.json`; the message names the first field that does not).
Loading only parses JSON and checks it: nothing in the file is unpickled, imported or executed,
so opening a file from someone else is safe. Pass a file written by `snapshot.save(path)`.""",
     message="the file is not a framealloc snapshot",
     todo="pass a file written by Snapshot.save (python -m framealloc report needs one)")
_add(ST.SNAPSHOT_VERSION, SnapshotError, "snapshot format version not supported", """
The snapshot says it is of a format version this framealloc does not read (it writes and reads
version 1). Open it with the framealloc version that wrote it (its `framealloc_version` field), or
write a new snapshot with this one.""",
     message="snapshot format version {version}; this framealloc reads version 1",
     todo="open it with the framealloc that wrote it", version="?")
_add(ST.NEEDS_PACKAGE, DiagnosticsError, "optional package missing", """
`snapshot.plot()` and `framealloc.plot_history(alloc)` draw with matplotlib, which framealloc does
not require. Install it (`pip install matplotlib`, or the `notebooks` extra:
`pip install framealloc[notebooks]`). The HTML report (`snapshot.to_html()`,
`python -m framealloc report`) needs no extra package.""",
     message="matplotlib is needed for plots",
     todo="pip install matplotlib (or framealloc[notebooks])")
_add(ST.TRACE_STATE, DiagnosticsError, "trace misused", """
`with alloc.trace(path):` records the frames the calling thread ends inside the block and writes
them as Chrome trace-event JSON when the block exits. One trace per allocator at a time: a
second `alloc.trace(...)` inside the first is refused, as is a trace of a closed allocator.
Frames beyond `AllocConfig.history` in one block are not all kept: raise `history` for long
traces.""",
     message="a trace of this allocator is already recording",
     todo="end the running trace block first")
_add(ST.BAD_DIAG_ARG, DiagnosticsError, "bad diagnostics argument", """
A diagnostics call got an argument it cannot use, and nothing was changed:
`alloc.history(thread_slot)` takes None (the calling thread) or a slot number between 0 and
`AllocConfig.max_threads - 1` (`stats().threads[i].slot`); `alloc.trace(path)` takes a file path
(str or os.PathLike); `plot_history(source, by=...)` takes a SmartAlloc, Snapshot or FrameHistory
and `by="kind"` or `"tag"`.""",
     message="bad {what}: {value}", todo="{fix}", what="argument", value="?",
     fix="see framealloc.explain('FA504')")
# FA51x: the behaviour filter (framealloc.behaviour). Warnings, issued once per window of the
# behaviour's own length; the thresholds are fields of framealloc.BehaviourFilter.
_add(ST.BEHAVIOUR_PROMOTION, BehaviourWarning, "frame allocations promoted every frame", """
Every one of the last `BehaviourFilter.promotion_frames` frames of a thread ended by promoting
retained frame allocations (`frame_retained(..., RetentionPolicy.PromoteTo...)`) into a pool,
the heap or a scratch pool. Data that survives every frame is not frame data: each promotion
allocates and copies it again. Allocate it once where it lives (`alloc.pool_box(...)`,
`alloc.typed_pool(...)`, a scratch pool) and update it in place; keep `frame_retained` for the
occasional frame whose result must survive.""",
     message="{what}", todo="allocate the data in a pool once instead",
     what="frame allocations were promoted every frame")
_add(ST.BEHAVIOUR_SHORT_BOX, BehaviourWarning, "pool boxes freed in the frame that made them", """
In every one of the last `BehaviourFilter.short_box_frames` frames of a thread, a pool box
(`alloc.pool_box`/`pool_alloc`) was freed (`free()`, its `with` block, `alloc.pool_free`) in the
same frame that made it. Memory that lives less than a frame is what the frame arena is for: a
frame allocation (`alloc.frame_array(...)`, `frame_box(...)`) is a pointer bump and needs no
free. Boxes released by garbage collection are not counted.""",
     message="{what}", todo="use frame allocations for data that dies with the frame",
     what="pool boxes were freed in the frame that made them")
_add(ST.BEHAVIOUR_GROWTH, BehaviourWarning, "frame peak rising frame after frame", """
The highest frame position of a thread (its frame peak, `alloc.history()["peak"]`) rose in each
of the last `BehaviourFilter.growth_frames` frames. A steady loop reaches a steady peak; one that
keeps rising allocates more each frame (a list that is never emptied, a count that only goes
up) and will exhaust the arena or its budget. Look at `alloc.history()` (per tag:
`history().tags`) to see which part grows. A warm-up that really is this long: raise
`growth_frames`.""",
     message="{what}", todo="find what allocates more every frame (alloc.history().tags)",
     what="the frame peak rose every frame")
_add(ST.BEHAVIOUR_HEAP_FALLBACK, BehaviourWarning, "heap fallback every frame", """
Under `AllocConfig(on_frame_exhausted="heap")`, every one of the last
`BehaviourFilter.heap_fallback_frames` frames of a thread served some frame allocations from
the heap because the frame chunk was full. The fallback is a safety net, not a steady state:
each one is a heap allocation. Raise `AllocConfig.frame_capacity` (the chunk size of the "heap"
policy) to the frames' peak (`alloc.history()["peak"]`), or use the "grow" policy.""",
     message="{what}", todo="raise AllocConfig.frame_capacity",
     what="frame allocations fell back to the heap every frame")
_add(ST.BEHAVIOUR_SOFT_BUDGET, BehaviourWarning, "soft budget passed every frame", """
In every one of the last `BehaviourFilter.soft_budget_frames` frames of a thread a soft budget
was passed (FA155 events). A soft limit that every frame passes warns about nothing: either the
loop needs more memory than planned (raise the soft limit with `alloc.set_budget(...)`) or it
allocates more than it should (look at the budget's tag in `alloc.stats().tags`). The events of
the last 256 budget crossings are what is checked.""",
     message="{what}", todo="raise the soft limit or allocate less per frame",
     what="a soft budget was passed every frame")
_add(ST.BEHAVIOUR_SCRATCH_NO_RESET, BehaviourWarning, "scratch pool never reset", """
A scratch pool was allocated from during the last `BehaviourFilter.scratch_reset_frames`
frames of the checking thread but not reset once in that time: its cursor only moves forward,
so it fills up (FA161) or holds memory nobody uses. Reset it where its data stops being needed
(`pool.reset()`, `alloc.scratch_reset(sid)` in @njit code), or, for data kept for good, use a
typed pool or a pool box. Checked when the behaviour filter runs (every
`BehaviourFilter.check_every` frames).""",
     message="{what}", todo="reset the scratch pool where its data stops being needed",
     what="a scratch pool was never reset")
_add(ST.BEHAVIOUR_TYPED_GROWTH, BehaviourWarning, "typed pool growing every frame", """
A typed pool's live records (acquired minus released) grew by at least one per frame over the
last `BehaviourFilter.typed_growth_frames` frames of the checking thread, at every check (the
filter samples pools every `BehaviourFilter.check_every` frames). Records acquired every frame
and never released are a leak: the pool grows its storage until it hits its limit (FA105).
Release what you acquire (`pool.release(i)`), or use frame allocations for per-frame data.""",
     message="{what}", todo="release the records you acquire",
     what="a typed pool grew every frame")
_add(ST.INTEGRATION_ARG, IntegrationError, "bad integration argument", """
An integration of framealloc with another library (framealloc.integrations: pymunk, esper, Dask,
asyncio) got an object of the wrong kind (e.g. not a `pymunk.Space`, not an esper processor) or
a value it cannot use (see the message). Nothing was installed or changed.""",
     message="{what}",
     todo="{advice}",
     what="bad integration argument", advice="see docs/integrations.md")
_add(ST.MISSING_EXTRA, MissingExtraError, "optional package not installed", """
The integration needs a package that is an optional extra of framealloc: pymunk for
framealloc.integrations.physics (`framealloc[physics]`), esper for the ECS processor
(`framealloc[ecs]`), dask/distributed for framealloc.integrations.dask (`framealloc[dask]`).
Install the extra; the rest of framealloc works without it.""",
     message="{package} is not installed",
     todo="pip install 'framealloc[{extra}]'",
     package="the optional package", extra="dev")
_add(ST.NOT_IN_TASK, TaskFrameError, "task_frame outside an asyncio task", """
`async with alloc.task_frame():` gives the *current asyncio task* its own frame arena, so it must
run inside a coroutine that an event loop runs as a task (`asyncio.run(main())`,
`asyncio.create_task(...)`, `asyncio.gather(...)`). Outside a task, use `with alloc.frame():`,
which serves the calling thread.""",
     message="task_frame() needs a running asyncio task",
     todo="enter it with `async with` inside a coroutine run by an event loop, or use frame()")
_add(ST.TASK_FRAME_OPEN, TaskFrameError, "task frame already open in this task", """
The task already holds a task frame of this allocator: a task has one arena, whose frame is open
for the whole `async with` block. Allocate in the frame that is open, use a checkpoint
(`with alloc.checkpoint_guard():`) for a nested scope, or start a child task for its own frame.
Nothing changed.""",
     message="this task already holds a task frame of this allocator",
     todo="allocate in it, or use checkpoint_guard() for a nested scope")
_add(ST.NO_WORKER_ALLOC, IntegrationError, "no allocator on this Dask worker", """
`framealloc.integrations.dask.get_alloc()` runs inside a Dask task and returns the SmartAlloc
that the FrameAllocPlugin created on that worker. There is none here: the plugin was not
registered (`client.register_plugin(FrameAllocPlugin(config))`), or this code does not run on a
Dask worker, or the worker is shutting down.""",
     message="no framealloc allocator on {where}",
     todo="register FrameAllocPlugin(config) with client.register_plugin() before submitting tasks",
     where="this worker")

# -- FA19x transparent frames ----------------------------------------------------------------
_add(ST.TRANSPARENT_REFUSED, TransparentWarning, "transparent frames refused", """
`fa.install_transparent()` (or the first `fa.transparent(alloc)` scope) checks that the numba
internals it hooks are the ones it knows: the numba version, the symbol numba's array allocation
calls (`NRT_MemInfo_alloc_aligned`) and the code that lowers it, the runtime's C entry points,
the `MemInfo` layout and free path (a probe allocation), and a compiled probe. One of them did
not match, so nothing was changed: compiled code allocates its arrays as numba always does, and
`fa.transparent()` scopes do nothing. The message names the check. Use explicit frame
allocation (`alloc.frame_array` inside `@njit`) instead, or a numba version the mode supports.
The NumPy half (`fa.transparent(alloc, numpy=True)`) has its own checks: NumPy's C-API indices
and the `PyDataMem_Handler` struct in the installed headers, the API version, and a probe of
the handler. When one fails, a `numpy=True` scope issues this warning (the message starts with
"NumPy's handler") and serves compiled code only; NumPy keeps its own allocator.""",
     message="transparent frames are off: {why}",
     todo="compiled code keeps numba's allocator; allocate with alloc.frame_array() instead",
     why="numba's internals are not the known ones")
_add(ST.TRANSPARENT_ARG, ConfigError, "bad transparent scope", """
`fa.transparent(alloc, threshold=..., chunk_size=...)` takes a SmartAlloc and sizes in bytes
(0 <= threshold <= chunk_size, chunk_size >= 4 KiB). A scope is entered once, and left on the
thread that entered it, innermost first when scopes nest. Nothing changed.""",
     message="{what}", todo="{fix}", what="bad transparent scope", fix="see explain('FA191')")
_add(ST.TRANSPARENT_THREADS, ConfigError, "too many transparent threads", """
Each thread inside a `fa.transparent()` scope holds one row of a process-wide table, so the
allocation hook finds it without running Python. All rows are taken. Leave scopes on threads
that no longer allocate, or use fewer threads in transparent scopes (a thread pool reuses its
threads).""",
     message="more than {limit} threads are in transparent scopes at once",
     todo="leave scopes on idle threads", limit="64")

#: What a status outside the table (``Status.INTERNAL``, a value no kernel should return) raises.
_INTERNAL = CodeInfo("FA000", "internal allocator error",
                     "A kernel returned a status it should not; please report it.",
                     "FrameAllocError", "internal allocator error (unexpected kernel status)",
                     cls=FrameAllocError)


def codes_between(first: int, last: int) -> dict[str, CodeInfo]:
    """The entries of codes ``FA<first>`` to ``FA<last>`` (a family's view of :data:`CODES`)."""
    return {c: i for c, i in CODES.items() if first <= int(c[2:]) <= last}


def _entry(status) -> CodeInfo:
    if isinstance(status, str):
        return CODES[status.strip().upper()]
    return CODES.get(f"FA{int(status):03d}", _INTERNAL) if status > 0 else _INTERNAL


def message(status, case: str | None = None, **fields) -> str:
    """The message of ``status`` (a :class:`Status`, its int, or ``"FAnnn"``): ``"FAnnn: ..."``.

    ``fields`` fill the template's ``{names}`` (the entry's defaults fill the rest);
    ``case`` picks one of the entry's other phrasings.
    """
    info = _entry(status)
    text, todo = dict(info.cases)[case] if case else (info.message or info.title, info.todo)
    if todo:
        text = f"{text}; {todo}"
    if info.defaults or fields:
        text = text.format_map({**dict(info.defaults), **fields})
    return f"{info.code}: {text}"


def exception_class(status) -> type[Exception]:
    """The exception class of ``status`` (GPU and coordination classes are imported on use)."""
    info = _entry(status)
    if info.cls is not None:
        return info.cls
    module, _, name = f"framealloc.{info.exception}".rpartition(".")
    return getattr(importlib.import_module(module), name)


def error(status, case: str | None = None, **fields) -> Exception:
    """The exception of ``status`` with its message (see :func:`message`), ready to raise."""
    exc = exception_class(status)
    text = message(status, case, **fields)
    return exc(text, code=text[:5]) if issubclass(exc, FrameAllocError) else exc(text)


_all: dict[str, CodeInfo] | None = None


def all_codes() -> dict[str, CodeInfo]:
    """Every known diagnostic code, runtime and static-analysis, sorted by code."""
    global _all
    if _all is None:
        merged = dict(CODES)
        try:
            from .lint.codes import CODES as lint_codes
        except ImportError:
            lint_codes = {}
        for code, info in lint_codes.items():
            merged.setdefault(code, info)
        _all = dict(sorted(merged.items()))
    return dict(_all)


def explain(code: str) -> str:
    """Return the explanation of a diagnostic code such as ``"FA008"``.

    >>> import framealloc
    >>> framealloc.explain("fa008").splitlines()[0]
    'FA008 frame arena exhausted'
    """
    key = str(code).strip().upper()
    codes = all_codes()
    if key not in codes:
        raise KeyError(f"unknown framealloc code {code!r}; known codes: {', '.join(codes)}")
    info = codes[key]
    text = f"{info.code} {info.title}\n{info.explanation}"
    if info.exception:
        text += f"\nRaised as: framealloc.{info.exception}"
    return text
