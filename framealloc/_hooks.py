"""The parts of a SmartAlloc and the one frame-event protocol they share.

A :class:`~framealloc.SmartAlloc` is composed of parts, each an object with its own state and an
explicit interface: the frame arenas (``alloc._frame_part``, :class:`framealloc.alloc.FramesPart`),
tags and budgets (``_org_part``, :mod:`framealloc.tags`), phases (``_phase_part``), scratch pools
(``_scratch_part``), retention (``_retention_part``), the pool family (``_pool_part``) and the frame
collections (``_collection_part``). SmartAlloc creates them (their state lazily where it always
was lazy), wires the ones that need each other, and keeps every public method as a one-line
delegation. A part never reads another part's private attributes: it calls the other part's
public methods (given to it at construction), or the allocator's public API when behaviour
depends on it (retention promotes through ``alloc.pool_box``/``heap_box``/``get_scratch_pool``).
Parts hold their allocator weakly (``weakref.ref``), so dropping the last reference to a
SmartAlloc still releases it at once.

Frame-event protocol
--------------------
Every event goes through one list of listeners, :data:`LISTENER_ORDER` (the parts that subclass
:class:`AllocPart`), in that fixed order; each event calls the listeners that override its method
(:func:`listeners` picks them once, when the allocator is made), so an event nobody listens to
costs nothing. ``ta`` is the calling thread's arena (``framealloc.alloc._ThreadArena``): its
``m`` is the thread's arena row (word indices :data:`framealloc.kernels.layout.F`) and its ``ext``
dict holds the per-thread state of the listeners, one entry per part (``"phases"``,
``"retention"``).

==========================  =================================================  ================
event                       when                                               listeners
==========================  =================================================  ================
``after_begin_frame(ta)``   the calling thread's frame was just opened         (none today)
``before_end_frame(ta)``    its frame is about to end (allocations live)       phases, retention
``after_end_frame(ta)``     its frame has ended                                phases
``after_rollback(ta, cp)``  its frame was rolled back to checkpoint ``cp``     retention
``on_close()``              ``close()``: after the arenas refuse new calls     pools
``on_release()``            the memory goes (no compiled call holds the        scratch
                            lease; allocator lock held; the arenas go last)
``on_collected()``          garbage-collected without ``close()``: drop        scratch
                            memory only, counters are never read again
==========================  =================================================  ================

Rules:

* Order: phases close before retention promotes (a promotion allocates, and a phase closed at
  ``end_frame`` must not count it); listeners run in :data:`LISTENER_ORDER`; an exception from
  one propagates and the later ones do not run (an exception in ``before_end_frame`` leaves the
  frame open, as when ``end_frame`` raises FA003).
* Per-thread fast path: the frame events (the first four) reach a thread's listeners only
  when ``ta.ext`` is not empty. A listener keeps whatever it needs at the end of a frame or
  after a rollback in ``ta.ext``; a thread that never used phases or retention pays one dict
  test per ``begin_frame``/``end_frame``.
* Frame events come from Python calls only. A frame ended or rolled back inside ``@njit`` code
  is noticed by the listeners themselves when they next look (phases: ``_phase_stale``;
  retention: ``_prune`` and the frame number).
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["AllocPart", "LISTENER_ORDER", "EVENTS", "listeners", "check_open"]

#: The listeners, in the order every event calls them (the part attribute names of SmartAlloc).
LISTENER_ORDER = ("_org_part", "_phase_part", "_scratch_part", "_retention_part", "_pool_part",
                  "_collection_part")

#: The events of the protocol (the method names).
EVENTS = ("after_begin_frame", "before_end_frame", "after_end_frame", "after_rollback",
          "on_close", "on_release", "on_collected")


class AllocPart:
    """Base of SmartAlloc's listening parts: every event a no-op (see the module docs).

    Each part keeps ``_owner``, a weak reference to its SmartAlloc (call it to get the
    allocator)."""

    __slots__ = ()
    _owner: Callable[[], Any]      # set by each part: weakref.ref(alloc)

    def _check_open(self) -> None:
        """FA015 when the allocator was closed (its closing interface, framealloc._closing)."""
        check_open(self._owner)

    def after_begin_frame(self, ta) -> None:
        """The calling thread's frame was just opened."""

    def before_end_frame(self, ta) -> None:
        """The calling thread's frame is about to end (its allocations are still live)."""

    def after_end_frame(self, ta) -> None:
        """The calling thread's frame has ended."""

    def after_rollback(self, ta, cp) -> None:
        """The calling thread's frame was rolled back to checkpoint ``cp``."""

    def on_close(self) -> None:
        """``close()`` was called: the allocator refuses new calls from now on."""

    def on_release(self) -> None:
        """The allocator's memory is released now (its lock is held)."""

    def on_collected(self) -> None:
        """The allocator was garbage-collected without ``close()``: drop memory only."""


def check_open(owner) -> None:
    """FA015 when the SmartAlloc behind the weak reference ``owner`` was closed."""
    alloc = owner()
    if alloc._closed:
        alloc._raise_closed()


def listeners(parts, event: str) -> tuple:
    """The bound ``event`` methods of the ``parts`` (in their order) that override it."""
    base = getattr(AllocPart, event)
    return tuple(getattr(p, event) for p in parts if getattr(type(p), event) is not base)
