"""Exceptions and diagnostic codes.

Every error framealloc raises is a :class:`FrameAllocError` subclass carrying a stable ``FAnnn``
code in ``.code``; ``framealloc.explain(code)`` returns the long explanation with what to do.

Code families (stable; new codes are only ever appended):

======== ======================================================================
FA0xx    frame arenas: frame state, sizes, dtypes, alignment, checkpoints, threads
FA10x-12x pools, heap, typed pools, groups, handles, streaming (``framealloc.pool_codes``)
FA13x-14x frame collections and layouts (``framealloc.collection_codes``)
FA15x-19x budgets, tags, phases, retention, thread coordination (runtime)
FA2xx    static analysis: threading        (``framealloc.lint``)
FA3xx    static analysis: budgets          (``framealloc.lint``)
FA4xx    GPU memory                         (``framealloc.gpu``)
FA5xx    runtime diagnostics (behaviour filter)
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
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

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
    "CodeInfo",
    "CODES",
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
    """A checkpoint belongs to another allocator, another frame, or was rolled past (FA009, FA010)."""

    default_code = "FA010"


class WrongThreadError(FrameAllocError, RuntimeError):
    """An object tied to one thread's arena was used from another thread (FA011)."""

    default_code = "FA011"


class ConfigError(FrameAllocError, ValueError):
    """An :class:`~framealloc.AllocConfig` value is invalid (FA013), or thread slots ran out (FA012)."""

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


@dataclass(frozen=True)
class CodeInfo:
    """One diagnostic code: a short title and the long explanation (what happened, what to do)."""

    code: str
    title: str
    explanation: str
    exception: str = ""


CODES: dict[str, CodeInfo] = {}


def _add(code: str, title: str, explanation: str, exception: type | None = None) -> None:
    assert code not in CODES, f"duplicate diagnostic code {code}"
    CODES[code] = CodeInfo(code, title, explanation.strip(), exception.__name__ if exception else "")


_add("FA001", "allocation outside a frame", """
A frame allocation was requested while no frame is open on this thread.
Open one first: `alloc.begin_frame()` ... `alloc.end_frame()`, or `with alloc.frame(): ...`.
Inside @njit code, call `alloc.begin_frame()` in the kernel or open the frame in Python before the call.
Data that must outlive frames belongs in a pool (`pool_alloc`) or on the heap (`heap_array`).""",
     FrameStateError)
_add("FA002", "begin_frame while a frame is open", """
`begin_frame()` was called twice on the same thread without `end_frame()` in between.
Frames do not nest: end the current frame first. Use `frame_checkpoint()` / `checkpoint_guard()`
for nested scratch scopes inside one frame.""", FrameStateError)
_add("FA003", "end_frame without begin_frame", """
`end_frame()` was called on a thread that has no open frame. Each thread has its own frame arena:
a frame begun on another thread must be ended on that thread.""", FrameStateError)
_add("FA004", "bad size", """
A size, count or shape entry is negative or not an integer. Pass non-negative Python/NumPy
integers (NumPy-style: an int or a tuple of ints).""", AllocSizeError)
_add("FA005", "size overflow", """
The requested number of bytes overflows (shape product times itemsize beyond 2**47 bytes).
Check the shape; very large buffers belong on the heap (`np.empty`) rather than in a frame.""",
     AllocSizeError)
_add("FA006", "unsupported dtype", """
The dtype cannot be placed in raw arena memory: object dtypes (they hold Python references),
unsized dtypes such as bare 'S'/'U'/'V', and dtypes that are not NumPy dtypes; or a value given
to a `*box` method does not become one fixed-size array (a ragged nested list such as [1, [2]]).
Use numeric, boolean, datetime, fixed-size string or structured (record) dtypes.""",
     UnsupportedDtypeError)
_add("FA007", "bad alignment", """
`align=` must be a power of two between 1 and 4096 (and is raised to the dtype's natural
alignment if smaller). Example: `alloc.frame_array(n, np.float32, align=64)`.""", AlignmentError)
_add("FA008", "frame arena exhausted", """
The frame arena cannot serve the request: the policy is `on_frame_exhausted="error"` and the
allocation would pass `AllocConfig.frame_capacity`, or a hard budget stops it. Nothing was changed.
Raise `frame_capacity`, use the "grow" (default) or "heap" policy, end frames more often, or use
`try_frame_array(...)`, which returns None instead of raising.""", ArenaExhaustedError)
_add("FA009", "foreign checkpoint", """
The checkpoint was taken on a different SmartAlloc. Checkpoints are only valid on the allocator
(and thread) that made them.""", CheckpointError)
_add("FA010", "stale checkpoint", """
The checkpoint is no longer valid: it was taken in an earlier frame, an earlier rollback already
went past it, or it is older than the newest `AllocConfig.max_checkpoints` checkpoints of this frame.
Take a new checkpoint in the current frame.""", CheckpointError)
_add("FA011", "wrong thread", """
A checkpoint (or another per-thread object) made on one thread was used on another thread.
Each thread has its own frame arena; hand data across threads with a transfer handle or a pool.""",
     WrongThreadError)
_add("FA012", "too many threads", """
More Python threads used this allocator than `AllocConfig.max_threads` thread slots.
Raise `max_threads`; a slot is returned when its thread ends.""", ConfigError)
_add("FA013", "invalid configuration", """
An AllocConfig field has an invalid value (see the message for which one and the allowed range).""",
     ConfigError)
_add("FA014", "bad shape", """
The shape has too many dimensions (more than 8 inside @njit, 32 from Python) or is not an int or a
tuple of ints.""", AllocSizeError)
_add("FA016", "Python-only call inside @njit", """
A method or property that exists only in Python (`alloc.stats()`, `alloc.tag(...)`, budgets,
phases, `pool.reserve(...)`, ...) was used inside an @njit function; numba refuses it when it
compiles the function. Call it in Python, before or after the @njit call, and pass what the kernel
needs (an int, an array, a tag id from `alloc.tag_id(name)`) in as an argument. The README table
"call (Python and `@njit`)" and docs/ list what works inside @njit.""", NjitUsageError)
_add("FA017", "argument must be a constant inside @njit", """
Inside @njit code some arguments choose what numba compiles, so they must be constants written
in the call: `zero=True` / `zero=False`, and a dtype given as a string ("f4"). Write the constant
in the call, or pass a NumPy type (`np.float32`) instead of a string, or branch in your own code
(`if z: alloc.frame_zeros(...) else: alloc.frame_array(...)`).""", NjitUsageError)
_add("FA018", "not callable", """
A call that runs a function for you (`alloc.speculative(fn, ...)`, `alloc.with_tag(name, fn, ...)`)
got something that is not callable as `fn`. Nothing was changed (no checkpoint taken, no tag
entered). Pass the function itself, not its result: `alloc.speculative(step, x)`, not
`alloc.speculative(step(x))`.""", NotCallableError)

_add("FA015", "allocator closed", """
The SmartAlloc was closed (`alloc.close()`): every later call raises FA015, from Python and when
the allocator (or one of its pools) is passed into @njit code; only its counters can still be read
(`stats()`). Arrays it handed out stay valid. Compiled calls that were already running on other
threads when it was closed keep working until they return, and the memory is released then.
Create a new SmartAlloc for new work.""", FrameStateError)
_add("FA019", "allocator in a @njit generator", """
A SmartAlloc, SizeClassPools or TypedPool was used inside a @njit generator function. A suspended
generator keeps the raw addresses it was given without keeping the allocator alive, so it could
resume after the allocator's memory is gone. Allocate in a regular @njit function (it may return
the arrays), or pass the arrays the generator needs.""", FrameStateError)

# Other code families live next to the code that raises them; each module exposes a ``CODES``
# mapping of the same form and is merged here on first use, so importing framealloc stays light.
_EXTRA_CODE_MODULES = ("framealloc.gpu.codes", "framealloc.lint.codes",
                       "framealloc.pool_codes", "framealloc.collection_codes",
                       "framealloc.org_codes", "framealloc.phase_codes",
                       "framealloc.scratch_codes", "framealloc.retention_codes")
_extra_loaded = False


def _load_extra_codes() -> None:
    global _extra_loaded
    if _extra_loaded:
        return
    _extra_loaded = True
    for name in _EXTRA_CODE_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        for code, info in getattr(mod, "CODES", {}).items():
            if code not in CODES:
                CODES[code] = info if isinstance(info, CodeInfo) else CodeInfo(code, *info)


def all_codes() -> dict[str, CodeInfo]:
    """Every known diagnostic code, runtime and static-analysis, sorted by code."""
    _load_extra_codes()
    return dict(sorted(CODES.items()))


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
