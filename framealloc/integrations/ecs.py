"""esper (ECS) integration: a frame per ``esper.process()``, the allocator as a resource, a phase
per processor, and components stored in typed pools for @njit kernels.

:class:`FramePlugin` adds two processors to the current esper world: one with the highest
priority opens a frame, one with the lowest ends it, so every ``esper.process()`` is one frame
(``alloc.frame_number`` counts them). Processors added through :meth:`FramePlugin.add_processor`
get the allocator as ``self.alloc`` (any code reaches it with :func:`get_alloc`) and run inside a
phase named after their class, so ``alloc.phase_stats()`` shows each processor's bytes and time.

:meth:`FramePlugin.component_pool` makes a :class:`ComponentPool`: records of one dtype in a
:class:`~framealloc.TypedPool`. ``pool.add(entity, ...)`` gives the entity a component (an
instance of ``pool.component``, found with ``esper.get_component(pool.component)``) whose record
lives in ``pool.data``; processors run @njit kernels over ``pool.data`` and ``pool.alive``.

Needs ``pip install 'framealloc[ecs]'`` (esper >= 3).

Example
-------
>>> import numpy as np, esper, framealloc as fa
>>> from framealloc.integrations.ecs import FramePlugin
>>> esper.switch_world("doc-ecs")
>>> alloc = fa.SmartAlloc()
>>> plugin = FramePlugin(alloc)
>>> bodies = plugin.component_pool(np.dtype([("x", "f8"), ("v", "f8")]), 16, name="body")
>>> e = esper.create_entity()
>>> i = bodies.add(e, (0.0, 2.0))
>>> class Move(esper.Processor):
...     def process(self, dt):
...         d = self.alloc.frame_array(len(bodies.data))    # frame scratch: gone at the end
...         d[:] = bodies.data["v"] * dt
...         bodies.data["x"] += d
>>> plugin.add_processor(Move())
>>> for _ in range(3):
...     esper.process(0.5)
>>> float(bodies.record(e)["x"]), alloc.frame_number, alloc.phase_stats()["Move"].bytes
(3.0, 3, 128)
>>> plugin.remove(); esper.switch_world("default"); esper.delete_world("doc-ecs")
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import error
from ..kernels import status as ST
from . import require

__all__ = ["FramePlugin", "ComponentPool", "get_alloc", "BEGIN_PRIORITY", "END_PRIORITY"]

#: Priorities of the plugin's frame processors: esper runs higher priorities first, so every
#: processor you add with a priority between these runs inside the frame.
BEGIN_PRIORITY = 2 ** 62
END_PRIORITY = -(2 ** 62)

_plugins: dict = {}         # esper world name -> its FramePlugin


def _bad(what: str, advice: str):
    return error(ST.INTEGRATION_ARG, what=what, advice=advice)


def get_alloc(world: str | None = None):
    """The allocator of the FramePlugin on ``world`` (default: esper's current world); FA180
    when the world has none.

    >>> import esper, framealloc as fa
    >>> from framealloc.integrations.ecs import FramePlugin, get_alloc
    >>> esper.switch_world("doc-get"); alloc = fa.SmartAlloc(); plugin = FramePlugin(alloc)
    >>> get_alloc() is alloc
    True
    >>> plugin.remove(); esper.switch_world("default"); esper.delete_world("doc-get")
    """
    esper = require("esper", "ecs")
    name = esper.current_world if world is None else world
    plugin = _plugins.get(name)
    if plugin is None:
        raise _bad(f"esper world {name!r} has no FramePlugin",
                   "create FramePlugin(alloc) while that world is current")
    return plugin.alloc


class FramePlugin:
    """A frame per ``esper.process()`` on the current esper world (one plugin per world).

    Parameters
    ----------
    alloc:
        The :class:`~framealloc.SmartAlloc` (FA180 for anything else; FA015 if closed).
    phases:
        Run each processor added with :meth:`add_processor` in a phase named after its class.

    If a processor raised during the previous ``esper.process()``, its frame was left open: the
    next one ends it first (counted in :attr:`aborted`). A frame opened by your own code around
    ``esper.process()`` is refused with FA002 (the plugin owns the frames of its world).
    """

    def __init__(self, alloc, *, phases: bool = True):
        esper = require("esper", "ecs")
        from ..alloc import SmartAlloc

        if not isinstance(alloc, SmartAlloc):
            raise _bad(f"alloc must be a framealloc.SmartAlloc, got {type(alloc).__name__}",
                       "pass the allocator whose frames the world's processors use")
        if alloc.closed:
            alloc._raise_closed()
        world = esper.current_world
        if world in _plugins:
            raise _bad(f"esper world {world!r} already has a FramePlugin",
                       "call remove() on the old one first")
        self.alloc = alloc
        self.world = world
        self.phases = bool(phases)
        self.frames = 0            # esper.process() calls run as frames
        self.aborted = 0           # frames left open by a processor that raised, ended later
        self._open = False
        self._pools: list = []
        self._esper = esper
        self._begin, self._end = self._frame_processors(esper)
        esper.add_processor(self._begin, BEGIN_PRIORITY)
        esper.add_processor(self._end, END_PRIORITY)
        _plugins[world] = self

    def _frame_processors(self, esper):
        plugin = self

        class BeginFrame(esper.Processor):
            def process(self, *args, **kwargs):
                alloc = plugin.alloc
                if plugin._open and alloc.in_frame:     # a processor raised last time
                    alloc.end_frame()
                    plugin.aborted += 1
                alloc.begin_frame()                      # FA002 if someone else opened one
                plugin._open = True

        class EndFrame(esper.Processor):
            def process(self, *args, **kwargs):
                plugin._open = False
                plugin.frames += 1
                plugin.alloc.end_frame()

        return BeginFrame(), EndFrame()

    def _check_world(self):
        if _plugins.get(self.world) is not self:
            raise _bad("this FramePlugin was removed", "create a new one")
        if self._esper.current_world != self.world:
            raise _bad(f"esper's current world is {self._esper.current_world!r}, this plugin's "
                       f"is {self.world!r}", "switch_world() to the plugin's world first")

    def add_processor(self, processor, priority: int = 0) -> None:
        """``esper.add_processor(processor, priority)``, with ``processor.alloc`` set and (if
        ``phases``) its ``process`` run in a phase named after its class. ``priority`` must lie
        strictly between :data:`END_PRIORITY` and :data:`BEGIN_PRIORITY`."""
        self._check_world()
        if not isinstance(processor, self._esper.Processor):
            raise _bad(f"processor must be an esper.Processor, got {type(processor).__name__}",
                       "subclass esper.Processor and pass an instance")
        if isinstance(priority, bool) or not isinstance(priority, (int, np.integer)) \
                or not END_PRIORITY < priority < BEGIN_PRIORITY:
            raise _bad(f"priority must be an int between the frame processors' "
                       f"({END_PRIORITY}, {BEGIN_PRIORITY}), got {priority!r}",
                       "use ordinary priorities (esper runs higher ones first)")
        processor.alloc = self.alloc
        if self.phases:
            name = type(processor).__name__
            run = processor.process
            phase = self.alloc.phase

            @functools.wraps(run)
            def process(*args, **kwargs):
                with phase(name):
                    return run(*args, **kwargs)

            processor.process = process
        self._esper.add_processor(processor, int(priority))

    def component_pool(self, dtype, capacity: int = 1024, *, name: str = "",
                       policy: str = "grow") -> "ComponentPool":
        """A :class:`ComponentPool` of ``dtype`` records (a typed pool of this allocator)."""
        self._check_world()
        pool = ComponentPool(self, dtype, capacity, name=name, policy=policy)
        self._pools.append(pool)
        return pool

    def delete_entity(self, entity: int, immediate: bool = False) -> None:
        """Release the entity's pooled records, then ``esper.delete_entity(entity, immediate)``."""
        self._check_world()
        for pool in self._pools:
            if self._esper.has_component(entity, pool.component):
                pool.remove(entity)
        self._esper.delete_entity(entity, immediate)

    def delete_entities(self, entities, immediate: bool = False) -> None:
        """:meth:`delete_entity` for several entities, each pool released in one call."""
        self._check_world()
        esper = self._esper
        ents = [int(e) for e in entities]
        for pool in self._pools:
            mine = [e for e in ents if esper.has_component(e, pool.component)]
            if mine:
                pool.remove_many(mine)
        for e in ents:
            esper.delete_entity(e, immediate)

    def remove(self) -> None:
        """Take the frame processors off the world (a frame left open is ended); idempotent."""
        if _plugins.get(self.world) is not self:
            return
        esper = self._esper
        previous = esper.current_world
        if previous != self.world:
            esper.switch_world(self.world)
        try:
            esper.remove_processor(type(self._begin))
            esper.remove_processor(type(self._end))
        finally:
            if previous != self.world:
                esper.switch_world(previous)
        del _plugins[self.world]
        if self._open and self.alloc.in_frame and not self.alloc.closed:
            self.alloc.end_frame()
        self._open = False


class ComponentPool:
    """Components of one dtype whose records live in a :class:`~framealloc.TypedPool`.

    ``pool.component`` is the component class esper sees (its instances carry ``index``, the
    record's slot); ``pool.data`` the records (re-read after ``add``, which may grow the pool);
    ``pool.alive`` the mask of live slots; ``pool.entity`` each slot's entity (-1 when free).
    Made by :meth:`FramePlugin.component_pool`.
    """

    def __init__(self, plugin: FramePlugin, dtype, capacity: int, *, name: str, policy: str):
        self.plugin = plugin
        self.name = name or "component"
        self.pool = plugin.alloc.typed_pool(dtype, capacity, policy=policy, name=self.name)
        self.entity = np.full(self.pool.capacity, -1, np.int64)
        self.component = type(f"Pooled_{self.name}", (_Pooled,), {"__slots__": ()})

    @property
    def data(self) -> np.ndarray:
        """The records (all slots; ``alive`` says which are live)."""
        return self.pool.data

    @property
    def alive(self) -> np.ndarray:
        """Boolean mask of the live slots."""
        return self.pool.alive

    def __len__(self) -> int:
        return len(self.pool)

    def add(self, entity: int, value=None) -> int:
        """Give ``entity`` a record (``value``: a tuple/record for its fields, or None to leave
        it as the slot holds it) and the esper component pointing at it; returns the slot."""
        esper = self.plugin._esper
        if not esper.entity_exists(entity):
            raise _bad(f"entity {entity!r} does not exist in esper world {esper.current_world!r}",
                       "create it with esper.create_entity() first")
        if esper.has_component(entity, self.component):
            raise _bad(f"entity {entity} already has a {self.name!r} component",
                       "remove() it first or write its record")
        i = self.pool.acquire()
        if self.pool.capacity > self.entity.shape[0]:       # the pool grew
            grown = np.full(self.pool.capacity, -1, np.int64)
            grown[:self.entity.shape[0]] = self.entity
            self.entity = grown
        if value is not None:
            self.pool.data[i] = value
        self.entity[i] = entity
        esper.add_component(entity, self.component(i))
        return i

    def add_many(self, entities, values=None) -> np.ndarray:
        """:meth:`add` for a sequence of new entities in one pool call (``acquire_many``);
        ``values``: an array-like of records or None. Returns the slots."""
        esper = self.plugin._esper
        ents = [int(e) for e in entities]
        for e in ents:
            if not esper.entity_exists(e) or esper.has_component(e, self.component):
                raise _bad(f"entity {e!r} does not exist or already has a {self.name!r} "
                           "component", "pass new entities from esper.create_entity()")
        idx = self.pool.acquire_many(len(ents))
        if self.pool.capacity > self.entity.shape[0]:
            grown = np.full(self.pool.capacity, -1, np.int64)
            grown[:self.entity.shape[0]] = self.entity
            self.entity = grown
        if values is not None:
            self.pool.data[idx] = values
        self.entity[idx] = ents
        comp = self.component
        add = esper.add_component
        for e, i in zip(ents, idx.tolist()):
            add(e, comp(i))
        return idx

    def remove_many(self, entities) -> None:
        """:meth:`remove` for several entities, released in one pool call (``release_many``)."""
        remove = self.plugin._esper.remove_component
        idx = np.array([remove(int(e), self.component).index for e in entities], np.int64)
        self.pool.release_many(idx)
        self.entity[idx] = -1

    def index(self, entity: int) -> int:
        """The slot of ``entity``'s record."""
        return self.plugin._esper.component_for_entity(entity, self.component).index

    def record(self, entity: int):
        """``entity``'s record (a view into ``data``)."""
        return self.pool.data[self.index(entity)]

    def remove(self, entity: int) -> None:
        """Release ``entity``'s record and remove its component."""
        comp = self.plugin._esper.remove_component(entity, self.component)
        self.pool.release(comp.index)
        self.entity[comp.index] = -1


class _Pooled:
    """Base of a ComponentPool's component class: the slot of the entity's record."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __repr__(self) -> str:
        return f"{type(self).__name__}(index={self.index})"
