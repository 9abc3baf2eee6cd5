"""pymunk (2-D physics) integration: a ``Space.step`` inside a frame, its contacts in frame memory.

:class:`ContactCollector` installs a ``post_solve`` collision handler on a ``pymunk.Space``;
:meth:`ContactCollector.step` runs ``space.step(dt)`` under a ``physics`` tag and phase and
returns the step's contacts as a :class:`~framealloc.FrameVec` of :data:`CONTACT_DTYPE` records,
one per contact point, ready for an ``@njit`` kernel (pass the vec or ``vec.as_array()``). The
records live in the frame: they die at ``end_frame()`` with everything else, so a game loop
allocates nothing that outlives its frame.

Needs ``pip install 'framealloc[physics]'`` (pymunk >= 7).

Example
-------
>>> import numpy as np, pymunk, framealloc as fa
>>> from framealloc.integrations.physics import ContactCollector
>>> space = pymunk.Space(); space.gravity = (0, -900)
>>> floor = pymunk.Segment(space.static_body, (-100, 0), (100, 0), 1)
>>> ball = pymunk.Body(1, 10); ball.position = (0, 5)
>>> space.add(floor, ball, pymunk.Circle(ball, 5))
>>> alloc = fa.SmartAlloc()
>>> phys = ContactCollector(alloc, space)
>>> with alloc.frame():
...     contacts = phys.step(1 / 60)
...     c = contacts[0]
...     (len(contacts), int(c["body_a"]) == ball.id, float(c["ny"]) < -0.99, float(c["jy"]) > 0)
(1, True, True, True)
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np

from ..collections import FrameVec
from ..errors import error
from ..kernels import status as ST
from . import require

__all__ = ["CONTACT_DTYPE", "ContactCollector"]

#: One contact point of one step: pymunk's arbiter data, flattened for @njit kernels.
#:
#: ``body_a``/``body_b``: ``Body.id`` of the arbiter's bodies; ``shape_a``/``shape_b``: the
#: collector's shape ids (:meth:`ContactCollector.shape_id`, :meth:`ContactCollector.shape`);
#: ``point`` (0 or 1) of ``points`` in the arbiter; ``ax, ay``/``bx, by``: the contact point on
#: the surface of shape a / shape b (world coordinates); ``nx, ny``: the arbiter's normal (from a
#: to b: a ball (a) on a floor (b) gives (0, -1)); ``distance``: penetration depth (negative
#: when overlapping); ``jx, jy``: the arbiter's total impulse of the step
#: (``Arbiter.total_impulse``, the same for both points); ``first``: 1 in
#: the step the shapes began touching (``Arbiter.is_first_contact``).
CONTACT_DTYPE = np.dtype([
    ("body_a", np.int64), ("body_b", np.int64), ("shape_a", np.int64), ("shape_b", np.int64),
    ("point", np.int64), ("points", np.int64), ("first", np.int64),
    ("ax", np.float64), ("ay", np.float64), ("bx", np.float64), ("by", np.float64),
    ("nx", np.float64), ("ny", np.float64), ("distance", np.float64),
    ("jx", np.float64), ("jy", np.float64),
])


def _bad(what: str, advice: str):
    return error(ST.INTEGRATION_ARG, what=what, advice=advice)


class ContactCollector:
    """Collects the contacts of each ``space.step`` into a FrameVec of :data:`CONTACT_DTYPE`.

    Parameters
    ----------
    alloc:
        The :class:`~framealloc.SmartAlloc` whose frame holds the records.
    space:
        A ``pymunk.Space``. A ``post_solve`` handler is installed for the collision types
        ``(type_a, type_b)``; the default ``(None, None)`` (pymunk's wildcard) sees every
        collision and runs after your own handlers of specific types. pymunk keeps one
        ``post_solve`` per pair of types: your own ``post_solve`` for the same pair would replace
        this one, so call :meth:`record` from yours instead (your ``begin``/``pre_solve``/
        ``separate`` callbacks are not touched).
    capacity:
        The vec's capacity. ``None`` (default): exactly the step's contact points. With a number,
        a step with more points raises :class:`~framealloc.CollectionFullError` (FA131).
    tag, phase:
        The tag and phase the records' bytes (and the step's wall time) are counted under;
        ``None`` for none.

    Bad arguments raise :class:`~framealloc.IntegrationError` (FA180); a closed allocator FA015.
    """

    def __init__(self, alloc, space, *, capacity: int | None = None, tag: str | None = "physics",
                 phase: str | None = "physics", type_a: int | None = None,
                 type_b: int | None = None):
        pymunk = require("pymunk", "physics")
        from ..alloc import SmartAlloc

        if not isinstance(alloc, SmartAlloc):
            raise _bad(f"alloc must be a framealloc.SmartAlloc, got {type(alloc).__name__}",
                       "pass the allocator whose frames hold the contacts")
        if alloc.closed:
            alloc._raise_closed()
        if not isinstance(space, pymunk.Space):
            raise _bad(f"space must be a pymunk.Space, got {type(space).__name__}",
                       "pass the Space whose steps you want to collect")
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(
                capacity, (int, np.integer)) or capacity < 0):
            raise _bad(f"capacity must be None or an int >= 0, got {capacity!r}",
                       "pass the most contact points one step may produce, or None")
        for name, t in (("type_a", type_a), ("type_b", type_b)):
            if t is not None and (isinstance(t, bool) or not isinstance(t, (int, np.integer))
                                  or t < 0):
                raise _bad(f"{name} must be None or a collision type (int >= 0), got {t!r}",
                           "pass Shape.collision_type values, or None for every shape")
        if type_a is None and type_b is not None:
            raise _bad("type_a is None but type_b is not", "pymunk's wildcard is (None, None)"
                       " or (type_a, None): give type_a")
        for name, v in (("tag", tag), ("phase", phase)):
            if v is not None and (not isinstance(v, str) or not v):
                raise _bad(f"{name} must be None or a non-empty str, got {v!r}",
                           f"pass a {name} name such as 'physics'")
        self.alloc = alloc
        self.space = space
        self.capacity = None if capacity is None else int(capacity)
        self.tag, self.phase = tag, phase
        self._types = (type_a, type_b)
        self._pending: list = []
        self._ids: dict = {}        # shape -> id (a plain dict: the handler's hot lookup)
        self._shapes: list = []
        space.on_collision(type_a, type_b, post_solve=self.record)
        self._attached = True

    # -- shape ids -------------------------------------------------------------------------
    def shape_id(self, shape) -> int:
        """The id the records give ``shape``: assigned on first sight, from 0, never reused (give
        your shapes ids in an order you choose by calling this before the first step). The
        collector holds the shapes it has seen: :meth:`forget` one you remove from the space."""
        try:
            return self._ids[shape]
        except KeyError:
            i = self._ids[shape] = len(self._shapes)
            self._shapes.append(shape)
            return i

    def shape(self, shape_id: int):
        """The shape of a record's ``shape_a``/``shape_b`` (None once forgotten)."""
        return self._shapes[int(shape_id)]

    def forget(self, shape) -> None:
        """Drop the collector's reference to ``shape`` (removed from the space); its id is not
        reused."""
        i = self._ids.pop(shape, None)
        if i is not None:
            self._shapes[i] = None

    # -- collection ------------------------------------------------------------------------
    def record(self, arbiter, space=None, data=None) -> None:
        """Record ``arbiter``'s contact points for the current step: the ``post_solve`` handler
        (call it from your own if you install one for ``(None, None)``)."""
        sa, sb = arbiter.shapes
        ps = arbiter.contact_point_set
        n = ps.normal
        j = arbiter.total_impulse
        pts = ps.points
        ids = self._ids
        ia = ids.get(sa)
        if ia is None:
            ia = self.shape_id(sa)
        ib = ids.get(sb)
        if ib is None:
            ib = self.shape_id(sb)
        ba, bb = sa.body.id, sb.body.id
        first = int(arbiter.is_first_contact)
        npts = len(pts)
        append = self._pending.append
        for k, p in enumerate(pts):
            pa, pb = p.point_a, p.point_b
            append((ba, bb, ia, ib, k, npts, first, pa.x, pa.y, pb.x, pb.y, n.x, n.y,
                    p.distance, j.x, j.y))

    def step(self, dt: float) -> FrameVec:
        """``space.step(dt)`` under the tag and phase; returns the step's contact points as a
        FrameVec of :data:`CONTACT_DTYPE` in the open frame.

        FA001 (and no step) when no frame is open on the calling thread.
        """
        alloc = self.alloc
        if not alloc.in_frame:
            alloc.frame_array(0, np.uint8)      # raises FA001 (or FA015 when closed)
        if not self._attached:
            raise _bad("this ContactCollector was detached", "create a new one")
        self._pending.clear()
        if self.tag is not None:
            with alloc.tag(self.tag):
                return self._step_in_phase(dt)
        return self._step_in_phase(dt)

    def _step_in_phase(self, dt) -> FrameVec:
        if self.phase is None:
            return self._step(dt)
        with self.alloc.phase(self.phase):
            return self._step(dt)

    def _step(self, dt) -> FrameVec:
        pending = self._pending
        try:
            self.space.step(dt)
            n = len(pending)
            cap = n if self.capacity is None else self.capacity
            if n > cap:
                raise error(ST.VEC_FULL, op="extend",
                            room=f" (room for {cap} elements, not the step's {n} contact points)")
            vec = self.alloc.frame_vec(CONTACT_DTYPE, cap)
            if n:
                vec.extend(pending)
            return vec
        finally:
            pending.clear()

    @contextmanager
    def frame_step(self, dt: float) -> Iterator[FrameVec]:
        """``with phys.frame_step(dt) as contacts:`` a frame around one step; the contacts are
        valid inside the block.

        >>> import pymunk, framealloc as fa
        >>> from framealloc.integrations.physics import ContactCollector
        >>> alloc = fa.SmartAlloc(); phys = ContactCollector(alloc, pymunk.Space())
        >>> with phys.frame_step(1 / 60) as contacts:
        ...     len(contacts)
        0
        >>> alloc.frame_number
        1
        """
        with self.alloc.frame():
            yield self.step(dt)

    def detach(self) -> None:
        """Remove the handler from the space (pymunk's default handling again); idempotent."""
        if self._attached:
            pymunk = require("pymunk", "physics")
            self.space.on_collision(*self._types, post_solve=pymunk.empty_callback)
            self._attached = False
