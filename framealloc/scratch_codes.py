"""Exceptions and diagnostic codes of named scratch pools (FA160–FA162).

``framealloc.explain("FA161")`` gives the long form. Both exceptions are
:class:`~framealloc.FrameAllocError` subclasses carrying their code in ``.code`` and a fitting
builtin (``except MemoryError`` catches a full scratch pool). Errors raised inside ``@njit`` code
carry the same codes (their message starts with ``"FAnnn: "``).

>>> import framealloc as fa
>>> print(fa.explain("FA161").splitlines()[0])
FA161 scratch pool full
"""
from __future__ import annotations

from .errors import CodeInfo, FrameAllocError

__all__ = ["CODES", "ScratchError", "ScratchFullError"]


class ScratchError(FrameAllocError, ValueError):
    """A bad scratch pool name, capacity or id (FA160), or too many scratch pools (FA162)."""

    default_code = "FA160"


class ScratchFullError(FrameAllocError, MemoryError):
    """A scratch pool cannot hold the request (FA161); nothing was allocated or changed."""

    default_code = "FA161"


CODES: dict[str, CodeInfo] = {}


def _add(code: str, title: str, explanation: str, exception: type) -> None:
    assert code not in CODES, f"duplicate diagnostic code {code}"
    assert "FA160" <= code <= "FA162", f"{code} is outside the scratch family FA160-FA162"
    CODES[code] = CodeInfo(code, title, explanation.strip(), exception.__name__)


_add("FA160", "bad scratch pool name, capacity or id", """
`alloc.scratch_pool(name, capacity)` needs a name that is a non-empty printable str of at most
128 characters and, to create the pool, a capacity in bytes that is an int between 1 and 2**47.
A name that does not exist yet needs a capacity; a name that exists must be asked for with no
capacity or with the capacity it was created with (pools never resize: pick another name, or
reuse the existing pool). Ids passed to `alloc.scratch_array(sid, ...)` (Python or @njit) must
be `pool.id` of a scratch pool of that same allocator. Nothing was changed.""", ScratchError)
_add("FA161", "scratch pool full", """
The scratch pool has too few bytes left for the request (alignment padding included), or its
memory could not be allocated when it was created. Nothing was allocated or changed. Call
`pool.reset()` when the data in it is no longer needed (scratch pools are only emptied by
`reset()`, never by `end_frame()`), create the pool with a larger capacity under another name,
or use a `try_` form (`pool.try_array`, `alloc.try_scratch_array`), which returns None.""",
     ScratchFullError)
_add("FA162", "too many scratch pools", """
An allocator holds at most 256 scratch pools, and at most 16384 allocators in one process hold
scratch pools at the same time. Scratch pools are named, long-lived arenas: reuse them by name
(`alloc.scratch_pool("physics")` returns the existing pool) instead of creating one per object,
and close allocators you no longer use (`alloc.close()`).""", ScratchError)
