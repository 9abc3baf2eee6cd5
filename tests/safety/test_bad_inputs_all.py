"""Every public method of every framealloc object, fed bad values: an FA-coded error, nothing
changed, the allocator still usable.

The entry points are *introspected*, not listed: the public methods (names without a leading
underscore) of the classes in ``framealloc.__all__`` that hold allocator state, plus the
constructors users call. :data:`SPECS` says, for each of them, how to build good arguments and
which kind of bad value each parameter takes; the cases are the product of each bad-able
parameter with the bad values of its kind in :data:`BAD` (the other arguments stay good). A
public method or a parameter the table does not know makes :func:`test_table_covers_the_api`
fail, so a new entry point cannot slip past it.

Per case: a fresh allocator with some live state of every kind, a snapshot of everything it (and
the object called) reaches (:func:`tests.safety.state.state_of`), the call, which must raise an
exception whose ``.code`` is an ``FA`` code and whose message starts with it, the same snapshot
again, and a frame + allocation afterwards. Use after ``close()`` (FA015) is left to its own table.
"""
from __future__ import annotations

import inspect
import io
import math
import os
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest

import framealloc as fa

from .state import diff, state_of

F4 = np.float32
CONFIG = dict(max_threads=2, max_checkpoints=8, max_tags=16, frame_chunk_size=1 << 16)


# ---------------------------------------------------------------------------------------------
# The world every case starts from: one allocator with live state of every kind, and the
# foreign/stale things the bad values refer to.

class Env:
    """Objects of one case (attributes are looked up by name by :class:`E`)."""

    def __init__(self):
        a = self.alloc = fa.SmartAlloc(fa.AllocConfig(**CONFIG))
        other = self.other = fa.SmartAlloc(fa.AllocConfig(**CONFIG))
        # A checkpoint of an earlier frame, then the frame the calls run in.
        a.begin_frame()
        self.old_cp = a.frame_checkpoint()
        a.end_frame()
        a.begin_frame()
        a.frame_array(5, F4)[:] = 1
        self.cp = a.frame_checkpoint()
        a.frame_array(3, F4)
        other.begin_frame()         # noqa: FA606 (closed by close())
        self.foreign_cp = other.frame_checkpoint()
        # Scopes: an open one (the good value), one ended already, another allocator's, and an
        # outer one whose inner scope is still open (FA023: ending it out of order).
        self.done_scope = a.scope_begin()
        a.scope_end(self.done_scope)
        self.foreign_scope = other.scope_begin()
        self.outer_scope = a.scope_begin()
        self.scope = a.scope_begin()
        # Tags and budgets.
        self.tag = a.tag_id("t")
        a.set_budget(hard=1 << 30)
        # Pools.
        pool = self.pool = a.typed_pool(np.float64, 4)
        self.slot = pool.acquire()
        self.handle = pool.handle(self.slot)
        dead = pool.acquire()
        self.dead_handle = pool.handle(dead)
        pool.release(dead)
        self.free_slot = dead
        pools = self.pools = a.pools
        self.key = pools.acquire(32)
        self.dead_key = pools.acquire(32)
        pools.release(self.dead_key)
        self.box = a.pool_box(np.arange(3.0))
        self.freed_box = a.pool_box(np.arange(2.0))
        self.freed_box.free()
        self.foreign_box = other.pool_box(np.arange(2.0))
        # Scratch pools.
        self.scratch = a.scratch_pool("s", 256)
        self.scratch.array(4, F4)
        self.sid = self.scratch.id
        self.foreign_sid = other.scratch_pool("s", 256).id
        # Collections and layouts.
        self.vec = a.frame_vec(np.int64, 4)                 # noqa: FA601 (used in this frame)
        self.vec.push(1)
        self.map = a.frame_map(np.int64, np.float64, 4)     # noqa: FA601 (used in this frame)
        self.map[1] = 1.0
        self.layout = a.frame_layout(x=(3, F4))
        self.layout.alloc()
        # Heap, groups, handles, streaming.
        a.heap_array(4)
        self.group = a.create_group("g")
        a.group_alloc(self.group, 3)
        self.dead_group = a.create_group("dead")
        a.free_group(self.dead_group)
        heap = self.heap = a.handles
        self.h = heap.alloc(4)
        self.dead_h = heap.alloc(4)
        heap.free(self.dead_h)
        stream = self.stream = a.streaming(1024)
        self.aid = stream.reserve(16)
        self.dead_aid = stream.reserve(16)
        stream.release(self.dead_aid)
        # Coordination and retention.
        self.barrier = fa.FrameBarrier(1)
        self.barrier.signal_frame_complete()   # a wait then returns at once, whatever timeout
        self.transfer = fa.TransferHandle(np.zeros(3), 0)
        self.guard = a.checkpoint_guard()
        self.policy = fa.RetentionPolicy.PromoteToHeap
        self.importance = fa.Importance.Reusable

    def close(self) -> None:
        self.other.close()
        self.alloc.close()


class E:
    """A value taken from the case's :class:`Env` (``E("sid")``) or made from it."""

    def __init__(self, name: str | None = None, make: Callable[[Env], Any] | None = None):
        self.name, self.make = name, make

    def __call__(self, env: Env):
        return self.make(env) if self.make is not None else getattr(env, self.name)

    def __repr__(self) -> str:
        return self.name or "E(...)"


def _value(v, env: Env):
    return v(env) if isinstance(v, E) else v


# ---------------------------------------------------------------------------------------------
# Bad values, by kind of parameter (a case's id is "<method>-<parameter>-<index in the list>")

BAD: dict[str, list] = {
    "shape": [-1, (3, -2), 2.5, (2, 1.5), "10", None, [1, [2]], (1,) * 40, 1 << 62],
    "count": [-1, 2.5, "10", None, True],
    "size": [-1, 2.5, "10", None, True, 1 << 62],          # a count that allocates
    "dtype": [object, "O", "nonsense", "S", "V", ("f8", 3), 3.5, [("x", "O")]],
    "align": [3, 0, -8, 8192, 2.5, "64"],
    "name": [None, 3, "", "a\nb"],
    "opt_name": [3, "", "a\nb"],
    "scratch_name": [None, 3, "", "a\nb", "x" * 300],
    "name_ref": [None, 3, ""],                   # a reference to a name, checked when used
    # tag paths ("" is the root's path); the last one needs more than max_tags=16 new tags
    "tag": [None, 3, "a\nb", "a::", "::a", "a:: b", "::".join("a" * 17),
            "::".join(f"n{i}" for i in range(16))],
    "tag_name": [None, 3, "", "a\nb", "a::", "::a", "::".join(f"n{i}" for i in range(16))],
    "callable": [42, "f"],
    "thread_slot": [-1, 1 << 40, 1.5, "k", True],
    "flag": [1, "yes", None],
    "behaviour": [{"growth_frames": 3}, 3, "yes", True],
    "behaviour_codes": ["FA999", ("FA155",), 5, [None], ("FA512", 3)],
    "path": [None, 3, 2.5],
    "limit": [-1, 1.5, "10", True],
    "choice": ["nonsense", None, 3],
    "checkpoint": ["cp", None, E("old_cp"), E("foreign_cp"), E("scope")],
    "scope": ["s", None, E("cp"), E("done_scope"), E("foreign_scope"), E("outer_scope")],
    "sid": [-1, 1.5, "s", None, E("foreign_sid"), 1 << 40],
    "tag_id": [-1, 1 << 20, 1.5, "t", True],
    "group": [-1, 1 << 20, 1.5, "g", None, E("dead_group")],
    "slot": [-1, 1 << 40, 1.5, "k", None, E("dead_handle"), E("free_slot")],
    "index": [-1, 1 << 20, 1.5, "k", None],     # generation(i) reads the low 32 bits of i
    "key_query": [1.5, "k", None, True],        # is_alive & co answer False for dead keys
    "slots": [np.array([1.5]), "k", [[1], [2]], np.array([-1]), None],
    "class_key": [-1, 1 << 40, 1.5, "k", None, E("dead_key")],
    "map_key": [1.5, "k", None, True, 1 << 70, -(1 << 70)],
    "held_key": [1.5, "k", None, True, 1 << 70, 99],      # 99: not in the map
    "handle": [-1, 1 << 40, 1.5, "h", None, E("dead_h")],
    "aid": [-1, 1 << 40, 1.5, "a", None, E("dead_aid")],
    "timeout": [-1, "x", math.nan],
    "value": [[1, [2]], object(), None, {"a": 1}],
    "element": ["x", (1, 2), None, [1, 2], object()],
    "float_element": ["x", (1, 2), [1, 2], object()],     # None is nan for NumPy
    "elements": ["x", [[1, 2], [3]], np.array(["x"]), object(), [None]],
    "box": [3, "b", np.zeros(3), E("freed_box"), E("foreign_box")],
    "fields": [{}, {"x": 3}, {"_x": (3, F4)}, {"x": (3, "O")}, {"x": (-1, F4)}, {1: (3, F4)},
               {"x": (3, F4, 3)}, "x"],
    "policy": ["PromoteToHeap", None, 3, fa.Importance.Reusable],
    "importance": ["Reusable", None, 3, fa.RetentionPolicy.PromoteToHeap],
    "value_or_dtype": [object, [1, [2]], "nonsense", None],
    "int": [1.5, "x", None],
    "source": [3, None, "abc", E(make=lambda e: io.StringIO("ab"))],    # the last: text, not bytes
    "data": [object(), [1, [2]], {"a": 1}, "abc"],
    "size_classes": [(), (16, 8), (0,), (1.5,), "16", None, (3,)],
    "config": ["x", 3, {}],
    "chunk_size": [0, 63, -1, 1.5, True, "64", 1 << 50],
    "phase_frame": ["nonsense", None, 3],
    # NumPy's creation vocabulary (framealloc.creation)
    "fill": [np.zeros(7), object(), [1, [2]]],
    "fill_like": [np.zeros(7), object(), [1, [2]], "x"],      # "x" does not become a float
    "arange_num": ["5", [1], 1j, True, math.nan],
    "step": ["5", 0, 1j, math.nan],
    "arrays": [3, None, np.zeros(3), (), [np.zeros(2), np.zeros((2, 2))], [[1, [2]]]],
    "axis": ["x", 1.5, 5, -9],
    "indices": ["x", np.array([1.5]), np.array([9]), None, [[1], [2, 3]]],
    "mask": [np.ones(5, bool), np.ones((3, 1), bool), None, "x"],
    # transparent frames (framealloc.transparent)
    "allocator": [None, 3, "alloc", object()],
}


class P(NamedTuple):
    """A parameter: a good value (a constant or an :class:`E`) and its kind of bad values in
    :data:`BAD` (None: every value is accepted by contract, e.g. ``zero`` or a label)."""

    good: Any
    kind: str | None


def free(good=None) -> P:
    """A parameter whose every value is fine (``zero``, labels shown only in stats, ...)."""
    return P(good, None)


def _plain(fn, kwargs):
    return fn(**kwargs)


def _run_generator(fn, kwargs):
    return list(fn(**kwargs))        # a generator: run it, so the checks inside it run too


def _enter(fn, kwargs):
    with fn(**kwargs):               # a context manager: its checks run on entry
        pass


class Spec(NamedTuple):
    """How to call one entry point: every parameter by name (keyword-only ones included, private
    ``_x`` ones left out) and how to call it."""

    params: dict
    call: Callable = _plain


#: Which :class:`Env` attribute each class's methods are called on.
RECEIVERS = {
    "SmartAlloc": "alloc", "TypedPool": "pool", "SizeClassPools": "pools", "ScratchPool": "scratch",
    "FrameVec": "vec", "FrameMap": "map", "FrameLayout": "layout", "PoolBox": "box",
    "HandleHeap": "heap", "StreamingAllocator": "stream", "FrameBarrier": "barrier",
    "TransferHandle": "transfer", "CheckpointGuard": "guard", "PhaseBlock": None,
    # static constructors, called on the class
    "RetentionPolicy": None, "Importance": None, "AllocConfig": None, "BehaviourFilter": None,
    # module functions, called on the package
    "transparent": None, "install_transparent": None,
}

SHAPE, DTYPE, ALIGN, SIZE = P(3, "shape"), P(F4, "dtype"), P(None, "align"), P(3, "size")
ZERO = free(False)          # any value: its truth decides

# ---------------------------------------------------------------------------------------------
# The map: every public entry point with parameters -> how to build its arguments.

SPECS: dict[str, Spec] = {}


def _spec(names: str, call: Callable = _plain, **params) -> None:
    for name in names.split():
        assert name not in SPECS, name
        SPECS[name] = Spec(params, call)


_FRAME_ARRAY = dict(shape=SHAPE, dtype=DTYPE, align=ALIGN)
_spec("SmartAlloc.frame_array SmartAlloc.try_frame_array", **_FRAME_ARRAY, zero=ZERO)
_spec("SmartAlloc.frame_zeros SmartAlloc.try_frame_zeros", **_FRAME_ARRAY)
_spec("SmartAlloc.frame_alloc SmartAlloc.try_frame_alloc SmartAlloc.frame_alloc_2 "
      "SmartAlloc.frame_alloc_4 SmartAlloc.frame_alloc_8 SmartAlloc.try_frame_alloc_2 "
      "SmartAlloc.try_frame_alloc_4 SmartAlloc.try_frame_alloc_8", dtype=DTYPE)
_spec("SmartAlloc.frame_slice SmartAlloc.try_frame_slice SmartAlloc.frame_alloc_batch "
      "SmartAlloc.try_frame_alloc_batch", dtype=DTYPE, n=SHAPE)
_spec("SmartAlloc.frame_box SmartAlloc.try_frame_box SmartAlloc.heap_box SmartAlloc.pool_box "
      "SmartAlloc.frame_box_for_transfer ScratchPool.box ScratchPool.try_box",
      value=P(np.arange(3.0), "value"))
_ARR = P(np.arange(3.0), "value")
_spec("SmartAlloc.frame_empty_like SmartAlloc.try_frame_empty_like SmartAlloc.frame_zeros_like "
      "SmartAlloc.try_frame_zeros_like", a=_ARR, dtype=P(None, "dtype"))
_spec("SmartAlloc.frame_full SmartAlloc.try_frame_full", shape=SHAPE, fill_value=P(1.0, "fill"),
      dtype=P(None, "dtype"))
_spec("SmartAlloc.frame_full_like SmartAlloc.try_frame_full_like", a=_ARR,
      fill_value=P(1.0, "fill_like"), dtype=P(None, "dtype"))
_spec("SmartAlloc.frame_copy SmartAlloc.try_frame_copy SmartAlloc.frame_nonzero "
      "SmartAlloc.try_frame_nonzero", a=_ARR)
_spec("SmartAlloc.frame_where SmartAlloc.try_frame_where", condition=_ARR)
_spec("SmartAlloc.frame_arange SmartAlloc.try_frame_arange", start=P(0, "arange_num"),
      stop=P(5, "arange_num"), step=P(1, "step"), dtype=P(None, "dtype"))
_spec("SmartAlloc.frame_concatenate SmartAlloc.try_frame_concatenate",
      arrays=P((np.zeros(2), np.zeros(3)), "arrays"), axis=P(0, "axis"))
_spec("SmartAlloc.frame_stack SmartAlloc.try_frame_stack",
      arrays=P((np.zeros(2), np.zeros(2)), "arrays"), axis=P(0, "axis"))
_spec("SmartAlloc.frame_take SmartAlloc.try_frame_take", a=_ARR,
      indices=P(np.array([0, 2]), "indices"), axis=P(None, "axis"))
_spec("SmartAlloc.frame_compress SmartAlloc.try_frame_compress",
      condition=P(np.array([True, False, True]), "mask"), a=_ARR, axis=P(None, "axis"))
_spec("SmartAlloc.rollback_to", cp=P(E("cp"), "checkpoint"))
_spec("SmartAlloc.scope_end", s=P(E("scope"), "scope"))


def _eval_call(fn, kwargs):
    """frame_eval(fn, *args): the operands (``_args``, a COMBOS key) go positionally."""
    kwargs = dict(kwargs)
    args = kwargs.pop("_args", (np.arange(3.0), 2.0))
    return fn(kwargs["fn"], *args)


_spec("SmartAlloc.frame_eval SmartAlloc.try_frame_eval", _eval_call, fn=P(np.hypot, "callable"))
_spec("SmartAlloc.speculative", fn=P(lambda: 1, "callable"))
_spec("SmartAlloc.with_tag", name=P("w", "tag_name"), fn=P(lambda: 1, "callable"))
_spec("SmartAlloc.push_tag", name=P("p", "tag_name"))
_spec("SmartAlloc.tag", _enter, name=P("p", "tag_name"))
_spec("SmartAlloc.tag_id", path=P("q", "tag"))
_spec("SmartAlloc.tag_name", tag_id=P(E("tag"), "tag_id"))
_LIMITS = dict(soft=P(None, "limit"), hard=P(None, "limit"), on_soft=P(None, "callable"))
_spec("SmartAlloc.set_budget", **_LIMITS, kind=P("total", "choice"))
_spec("SmartAlloc.set_tag_budget", name=P("t", "tag"), **_LIMITS)
_spec("SmartAlloc.set_thread_frame_budget", **_LIMITS)
_spec("SmartAlloc.begin_phase", name=P("ph", "name"))
_spec("SmartAlloc.phase", _enter, name=P("ph", "name"))
_spec("SmartAlloc.task_frame", chunk_size=P(None, "chunk_size"))
_spec("SmartAlloc.end_phase", name=P(None, "opt_name"))
_spec("SmartAlloc.phase_stats", frame=P("last", "phase_frame"))
_spec("SmartAlloc.history", thread_slot=P(None, "thread_slot"))
_spec("SmartAlloc.snapshot", label=free(""))
_spec("SmartAlloc.trace", path=P(os.devnull, "path"))
_SID = P(E("sid"), "sid")
_spec("SmartAlloc.scratch_array SmartAlloc.try_scratch_array", sid=_SID, **_FRAME_ARRAY,
      zero=ZERO)
_spec("SmartAlloc.scratch_zeros SmartAlloc.try_scratch_zeros", sid=_SID, **_FRAME_ARRAY)
_spec("SmartAlloc.scratch_reset SmartAlloc.scratch_used", sid=_SID)
_spec("SmartAlloc.scratch_pool", name=P("s2", "scratch_name"), capacity=P(64, "size"))
_spec("SmartAlloc.get_scratch_pool", name=P("s", "scratch_name"))
_spec("SmartAlloc.frame_vec SmartAlloc.try_frame_vec", dtype=DTYPE, capacity=SIZE)
_spec("SmartAlloc.frame_map SmartAlloc.try_frame_map", key_dtype=P(np.int64, "dtype"),
      value_dtype=DTYPE, capacity=SIZE)
_spec("SmartAlloc.frame_layout", fields=P({"y": (2, F4)}, "fields"))
_spec("SmartAlloc.frame_retained", value_or_dtype=P(F4, "value_or_dtype"),
      policy=P(E("policy"), "policy"), shape=P((), "shape"))
_spec("SmartAlloc.frame_with_importance", value_or_dtype=P(F4, "value_or_dtype"),
      importance=P(E("importance"), "importance"), shape=P((), "shape"))
_spec("SmartAlloc.pool_alloc", dtype=DTYPE, shape=P((), "shape"), zero=ZERO)
_spec("SmartAlloc.pool_free", box=P(E("box"), "box"))
_spec("SmartAlloc.typed_pool", dtype=DTYPE, capacity=SIZE, policy=P("grow", "choice"),
      name=free(""))            # a label shown in messages and stats: any str
_spec("SmartAlloc.heap_array SmartAlloc.heap_vec", shape=SHAPE, dtype=DTYPE, zero=ZERO)
_spec("SmartAlloc.create_group", name=free(""))             # a label: any str
_GROUP = P(E("group"), "group")
_spec("SmartAlloc.group_alloc", group=_GROUP, shape=SHAPE, dtype=DTYPE, zero=ZERO)
_spec("SmartAlloc.group_box", group=_GROUP, value=P(np.arange(3.0), "value"))
_spec("SmartAlloc.free_group SmartAlloc.group_stats", group=_GROUP)
_spec("SmartAlloc.streaming", budget=P(64, "count"), on_evict=P(None, "callable"), name=free(""))
# TypedPool
_spec("TypedPool.release TypedPool.index", key=P(E("handle"), "slot"))
_spec("TypedPool.is_alive", key=P(E("handle"), "key_query"))
_spec("TypedPool.handle", index=P(E("slot"), "slot"))
_spec("TypedPool.generation", index=P(E("slot"), "index"))
_spec("TypedPool.acquire_many", n=SIZE)
_spec("TypedPool.release_many", keys=P(E(make=lambda e: np.array([e.slot])), "slots"))
_spec("TypedPool.reserve", capacity=P(8, "size"))
# SizeClassPools
_spec("SizeClassPools.acquire SizeClassPools.try_acquire", nbytes=P(8, "size"))
_spec("SizeClassPools.class_index", nbytes=P(8, "count"))   # -1 beyond the largest class
_KEY = P(E("key"), "class_key")
_spec("SizeClassPools.release", key=_KEY)
_spec("SizeClassPools.is_live SizeClassPools.size_of", key=P(E("key"), "key_query"))
_spec("SizeClassPools.view", key=_KEY, dtype=DTYPE, count=P(1, "size"))
_spec("SizeClassPools.box", dtype=DTYPE, shape=P((), "shape"), zero=ZERO)
# ScratchPool
_spec("ScratchPool.array ScratchPool.try_array", **_FRAME_ARRAY, zero=ZERO)
_spec("ScratchPool.zeros ScratchPool.try_zeros", **_FRAME_ARRAY)
# FrameVec / FrameMap (int64 elements; int64 -> float64)
_spec("FrameVec.push FrameVec.try_push", value=P(2, "element"))
_spec("FrameVec.extend FrameVec.try_extend", values=P([2], "elements"))
_spec("FrameMap.insert FrameMap.try_insert", key=P(2, "map_key"),
      value=P(2.0, "float_element"))
_spec("FrameMap.contains FrameMap.try_remove", key=P(1, "map_key"))
_spec("FrameMap.remove", key=P(1, "held_key"))
_spec("FrameMap.get", key=P(1, "map_key"), default=free(None))   # any default is returned
# HandleHeap
_spec("HandleHeap.alloc", shape=SHAPE, dtype=DTYPE, zero=ZERO)
_spec("HandleHeap.free HandleHeap.is_pinned HandleHeap.pin "
      "HandleHeap.resolve HandleHeap.unpin", h=P(E("h"), "handle"))
_spec("HandleHeap.is_valid", h=P(E("h"), "key_query"))
# StreamingAllocator
_AID = P(E("aid"), "aid")
_spec("StreamingAllocator.access StreamingAllocator.evict StreamingAllocator.progress "
      "StreamingAllocator.release", aid=_AID)
_spec("StreamingAllocator.is_ready", aid=P(E("aid"), "key_query"))
_spec("StreamingAllocator.feed", aid=_AID, data=P(b"ab", "data"))
_spec("StreamingAllocator.reserve", size=P(8, "shape"), dtype=P(None, "dtype"),
      priority=P(0, "int"), name=free(""))
_spec("StreamingAllocator.load", _run_generator, aid=_AID,
      source=P(E(make=lambda e: io.BytesIO(b"ab")), "source"), chunk_bytes=P(4, "count"))
# FrameBarrier (one party: a wait returns at once)
_spec("FrameBarrier.arrive_and_wait FrameBarrier.wait_all", timeout=P(1.0, "timeout"))
# A name no scratch pool can have is reported when the frame ends (a FA165 promotion failure
# naming FA160), by design (tests/org/test_retention.py): only the type is checked up front.
_spec("RetentionPolicy.PromoteToScratch Importance.Scratch", name=P("s", "name_ref"))
# Constructors users call: their bad values are refused the same way.
_spec("SmartAlloc()", config=P(None, "config"))
_spec("TypedPool()", dtype=DTYPE, capacity=SIZE, policy=P("grow", "choice"), name=free(""))
_spec("SizeClassPools()", classes=P((16, 32), "size_classes"), page_bytes=P(4096, "count"),
      owner=free(0), heap=free(None), alloc=free(None))   # owner/heap/alloc: alloc.pools wiring
_spec("HandleHeap()", segment_bytes=P(4096, "count"))
_spec("StreamingAllocator()", budget=P(64, "count"), on_evict=P(None, "callable"), name=free(""))
_spec("FrameBarrier()", parties=P(1, "count"), timeout=P(None, "timeout"))
_spec("RetentionPolicy()", kind=P("heap", "choice"), scratch_name=P(None, "opt_name"))
_spec("Importance()", level=P("reusable", "choice"), scratch_name=P(None, "opt_name"))
_spec("AllocConfig()", frame_chunk_size=P(1 << 16, "count"), frame_capacity=P(1 << 20, "count"),
      on_frame_exhausted=P("grow", "choice"), max_threads=P(2, "count"),
      max_checkpoints=P(8, "count"), pool_size_classes=P((16, 32), "size_classes"),
      pool_page_size=P(4096, "count"), max_tags=P(16, "count"), budget_lease=P(4096, "count"),
      history=P(600, "count"), strict=P(False, "flag"), debug=P(False, "flag"),
      behaviour=P(None, "behaviour"))
_spec("BehaviourFilter()", **{f: P(60, "count") for f in (
    "check_every", "promotion_frames", "short_box_frames", "growth_frames", "heap_fallback_frames",
    "soft_budget_frames", "scratch_reset_frames", "typed_growth_frames")},
    ignore=P((), "behaviour_codes"))
_spec("SmartAlloc.check_behaviour", warn=free(True))

#: Bad combinations of good values (rules across parameters): (entry point, arguments that
#: replace the good ones).
COMBOS = [
    *((f"SmartAlloc.{m}", dict(_args=args)) for m in ("frame_eval", "try_frame_eval")
      for args in [(), ("x",), (np.zeros(3), np.zeros(4)), (np.array([None]), 1.0),
                   (np.zeros(3), object())]),
    *((f"SmartAlloc.{m}", dict(fn=fn, _args=(np.arange(3.0),)))
      for m in ("frame_eval", "try_frame_eval")
      for fn in (np.add, lambda x: "s", lambda x: (x, x), lambda x: undefined_name)),  # noqa: F821
    ("SmartAlloc.set_budget", dict(soft=10, hard=5)),
    ("SmartAlloc.set_tag_budget", dict(name="x", soft=10, hard=5)),
    ("SmartAlloc.set_tag_budget", dict(name="x::y", soft=10, hard=5)),
    ("SmartAlloc.set_thread_frame_budget", dict(soft=10, hard=5)),
    ("SmartAlloc.frame_retained", dict(value_or_dtype=np.arange(2.0), shape=(2,))),
    ("SmartAlloc.frame_with_importance", dict(value_or_dtype=np.arange(2.0), shape=(2,))),
    ("SmartAlloc.scratch_pool", dict(name="s", capacity=128)),      # exists with 256 bytes
    ("SmartAlloc.scratch_pool", dict(name="new", capacity=None)),   # a new pool needs one
    ("SmartAlloc.frame_array", dict(shape=(1 << 40, 1 << 40))),
    ("SizeClassPools.view", dict(dtype=np.float64, count=5)),       # 40 bytes in a 32-byte block
    ("StreamingAllocator.reserve", dict(size=4096)),                # more than the budget
    ("StreamingAllocator.feed", dict(data=b"x" * 17)),              # more than reserved
    ("RetentionPolicy()", dict(kind="heap", scratch_name="s")),
]

#: Public methods that take no parameters (or only ones every value of which is fine).
_spec("transparent()", alloc=P(E("alloc"), "allocator"), threshold=P(None, "limit"),
      chunk_size=P(fa.MiB(1), "chunk_size"), numpy=P(False, "flag"))

NO_BAD_ARGS = {
    "install_transparent()",
    "SmartAlloc.begin_frame", "SmartAlloc.end_frame", "SmartAlloc.frame", "SmartAlloc.close",
    "SmartAlloc.frame_checkpoint", "SmartAlloc.checkpoint_guard", "SmartAlloc.stats",
    "SmartAlloc.scope", "SmartAlloc.scope_begin",
    "SmartAlloc.pop_tag", "SmartAlloc.trim", "SmartAlloc.compact", "SmartAlloc.scratch_pools",
    "SmartAlloc.end_frame_with_promotions",
    "TypedPool.acquire", "TypedPool.acquire_handle", "TypedPool.try_acquire", "TypedPool.clear",
    "TypedPool.close", "TypedPool.info", "TypedPool.live_indices",
    "SizeClassPools.close", "SizeClassPools.collect", "SizeClassPools.info", "SizeClassPools.trim",
    "ScratchPool.reset", "ScratchPool.stats",
    "FrameVec.pop", "FrameVec.try_pop", "FrameVec.clear", "FrameVec.as_array",
    "FrameMap.clear", "FrameMap.keys", "FrameMap.values", "FrameMap.items",
    "FrameLayout.alloc", "PoolBox.free", "HandleHeap.compact", "HandleHeap.info",
    "StreamingAllocator.info", "FrameBarrier.abort", "FrameBarrier.reset",
    "FrameBarrier.signal_frame_complete", "TransferHandle.receive", "TransferHandle.drop",
    "CheckpointGuard.commit",
}

#: Classes of ``framealloc.__all__`` made only by the library (their constructors are wiring, not
#: API): the factory that makes each is the entry point, and their methods are in the table.
FACTORY_MADE = {
    "ScratchPool": "alloc.scratch_pool", "FrameVec": "alloc.frame_vec",
    "FrameMap": "alloc.frame_map", "FrameLayout": "alloc.frame_layout", "PoolBox": "alloc.pool_box",
    "TransferHandle": "alloc.frame_box_for_transfer", "CheckpointGuard": "alloc.checkpoint_guard",
    "PhaseBlock": "alloc.phase",
}

#: Plain data of ``framealloc.__all__`` (statistics, infos, results, constants): no state to
#: protect; their methods only convert (``to_dict``) or are the library's own constructors.
RECORDS = {
    "FrameCheckpoint", "FrameScope", "SpeculativeResult", "AllocStats", "FrameStats",
    "ThreadFrameStats",
    "TypedPoolInfo", "SizeClassInfo", "GroupInfo", "PoolStats", "TypedPoolStats", "HeapStats",
    "GroupStats", "HandleStats", "StreamingStats", "PromotionResult", "PromotedAllocation",
    "PromotionFailure", "RetentionSummary", "RetentionCounts", "FailureReasons", "PhaseStats",
    "PhaseTotals", "PhasesStats", "ScratchStats", "FAILED", "KiB", "MiB", "GiB", "explain",
    "FrameHistory", "HISTORY_RECORD", "Snapshot", "SnapshotDiff", "snapshot_schema",
    "plot_history", "merge_snapshots", "BehaviourEvent",
}


# ---------------------------------------------------------------------------------------------
# Introspection

def _public_classes() -> dict[str, type]:
    out = {}
    for name in fa.__all__:
        obj = getattr(fa, name)
        if inspect.isclass(obj) and issubclass(obj, (BaseException, Warning)):
            continue
        out[name] = obj
    return out


def _public_methods(cls: type) -> list[str]:
    """Public callables of ``cls`` that are not properties."""
    return [n for n in dir(cls) if not n.startswith("_")
            and not isinstance(inspect.getattr_static(cls, n), property)
            and callable(getattr(cls, n))]


def _parameters(fn) -> list[str]:
    """The parameters a caller passes (no self, no ``*args``/``**kwargs``, no private ``_x``)."""
    ps = list(inspect.signature(fn).parameters.values())
    return [p.name for p in ps if p.name != "self" and not p.name.startswith("_")
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _entry_points() -> dict[str, Callable]:
    """Every introspected entry point: ``Class.method`` and ``Class()`` -> the callable."""
    out = {}
    for name, cls in _public_classes().items():
        if name in RECORDS:
            continue
        for m in _public_methods(cls):
            out[f"{name}.{m}"] = getattr(cls, m)
        if name not in FACTORY_MADE:
            out[f"{name}()"] = cls
    return out


def _cases():
    for name, spec in SPECS.items():
        for pname, p in spec.params.items():
            if p.kind is None:
                continue
            for i, _ in enumerate(BAD[p.kind]):
                yield pytest.param(name, pname, i, id=f"{name}-{pname}-{i}")


def _combo_cases():
    for i, (name, kwargs) in enumerate(COMBOS):
        yield pytest.param(name, kwargs, id=f"{name}-combo-{i}")


CASES = list(_cases())
COMBO_CASES = list(_combo_cases())


def test_table_covers_the_api():
    """Every public class is classified, every entry point is in the map (or listed as taking
    nothing bad-able), and each map entry names exactly the entry point's parameters."""
    classes = set(_public_classes())
    classified = set(RECEIVERS) | set(FACTORY_MADE) | RECORDS
    assert classes - classified == set(), "classify these classes of framealloc.__all__"
    points = _entry_points()
    covered = set(SPECS) | NO_BAD_ARGS
    assert set(points) - covered == set(), "add these entry points to SPECS or NO_BAD_ARGS"
    assert covered - set(points) == set(), "these SPECS/NO_BAD_ARGS entries no longer exist"
    assert set(SPECS) & NO_BAD_ARGS == set()
    for name, spec in SPECS.items():
        assert set(_parameters(points[name])) == set(spec.params), name
        assert all(p.kind is None or p.kind in BAD for p in spec.params.values()), name
    for name in NO_BAD_ARGS:
        assert _parameters(points[name]) == [], f"{name} has parameters: put it in SPECS"
    assert len(CASES) > 500


def _callable(env: Env, name: str):
    cls, _, meth = name.partition(".")
    if name.endswith("()"):
        return getattr(fa, name[:-2]), None
    if RECEIVERS[cls] is None:
        return getattr(getattr(fa, cls), meth), None
    obj = getattr(env, RECEIVERS[cls])
    return getattr(obj, meth), obj


def _usable(a: fa.SmartAlloc) -> None:
    if a.in_frame:
        a.end_frame()
    with a.frame():
        assert a.frame_array((2, 3), F4).shape == (2, 3)


@pytest.fixture(scope="module", autouse=True)
def _warm():
    env = Env()      # compiles the kernels once, outside the timed-free cases
    env.close()


def _check(name: str, bad: Callable[[Env], dict]) -> None:
    """Call ``name`` with good arguments, some replaced by ``bad(env)``: an FA-coded error,
    nothing changed, the allocator usable."""
    spec = SPECS[name]
    env = Env()
    try:
        fn, obj = _callable(env, name)
        kwargs = {k: _value(p.good, env) for k, p in spec.params.items()}
        replaced = bad(env)
        kwargs.update(replaced)
        what = f"{name}({', '.join(f'{k}={v!r}' for k, v in replaced.items())})"
        watched = (env.alloc,) if obj is None else (env.alloc, obj)
        before = state_of(*watched)
        with pytest.raises(Exception) as ei:
            spec.call(fn, kwargs)
        e = ei.value
        code = getattr(e, "code", None)
        assert isinstance(code, str) and code.startswith("FA") and str(e).startswith(code), \
            f"{what} raised {type(e).__name__}: {e}"
        after = state_of(*watched)
        assert after == before, f"{what} [{code}] changed: {diff(before, after)}"
        _usable(env.alloc)
    finally:
        env.close()


@pytest.mark.parametrize("name,pname,index", CASES)
def test_bad_value_is_refused_with_a_code_and_changes_nothing(name, pname, index):
    kind = SPECS[name].params[pname].kind
    _check(name, lambda env: {pname: _value(BAD[kind][index], env)})


@pytest.mark.parametrize("name,kwargs", COMBO_CASES)
def test_bad_combination_is_refused_with_a_code_and_changes_nothing(name, kwargs):
    _check(name, lambda env: dict(kwargs))
