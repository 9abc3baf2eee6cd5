"""Diagnostic codes of frame phases (FA158–FA159): ``framealloc.explain("FA158")``.

>>> import framealloc as fa
>>> print(fa.explain("FA159").splitlines()[0])
FA159 phase open at end_frame
"""
from __future__ import annotations

from .errors import CodeInfo, FrameStateError

__all__ = ["PhaseError", "PhaseWarning", "CODES"]


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


class PhaseWarning(UserWarning):
    """A phase was still open when its frame ended (FA159): it was closed there, its record is
    flagged ``open_at_end_frame=True`` and it is not re-opened in the next frame."""

    code = "FA159"


CODES: dict[str, CodeInfo] = {
    "FA158": CodeInfo("FA158", "bad phase call", """
A phase call could not be honoured, and nothing was changed:
* `begin_phase(name)` / `with alloc.phase(name):` outside a frame: phases belong to the calling
  thread's open frame; call `alloc.begin_frame()` (or use `with alloc.frame():`) first;
* a bad name: a phase name is a non-empty str of printable characters without "::" (nesting
  makes the path: "physics" inside "update" is "update::physics");
* `end_phase()` on a thread with no open phase (phases are per thread, and every phase is closed
  when its frame ends), or `end_phase(name)` where `name` is not the innermost open phase (end
  the inner phases first; prefer `with alloc.phase(name):`, which always pairs them);
* `phase_stats(frame=...)` with something other than "last", "current" or "all".
Phases are Python-level: begin and end them around @njit calls, not inside @njit code.""".strip(),
                      "PhaseError"),
    "FA159": CodeInfo("FA159", "phase open at end_frame", """
`end_frame()` ran while phases were still open on this thread. They were closed at that point
(bytes, allocations and wall time up to the end of the frame), their records in
`alloc.phase_stats()` carry `open_at_end_frame=True`, and they are not re-opened in the next
frame. The same warning is issued when a `with alloc.phase(...)` block exits while phases begun
inside it with `begin_phase` are still open (they are closed with the block). Pair every
`begin_phase` with an `end_phase` in the same frame, or use `with alloc.phase(name):`.""".strip(),
                      "PhaseWarning"),
}
