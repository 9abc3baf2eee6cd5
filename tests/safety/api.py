"""A valid call of every public method of the allocator family, for the safety tables.

:class:`Ctx` makes a SmartAlloc with one of everything it can hand out (typed pool, size-class
block, scratch pool, group, handle, stream, layout, checkpoint, an open frame); :data:`CALLS`
maps ``(class name, method name)`` to a call that is valid while the allocator is open. The
tables check that :data:`CALLS` covers exactly the public names of each class (found with
``dir()``), so a method added later fails the tables until someone says how to call it.
"""
from __future__ import annotations

import os
import io

import numpy as np

import framealloc as fa
from framealloc.handles import HandleHeap
from framealloc.streaming import StreamingAllocator

F32 = np.float32
PARTICLE = np.dtype([("pos", "f4", 3), ("life", "f4")])


class Ctx:
    """An allocator with one of each part; on the calling thread a frame, a phase and a tag are
    open (``open_frame=False``: none), so that every call of the tables is valid."""

    def __init__(self, open_frame: bool = True):
        a = self.alloc = fa.SmartAlloc()
        with a.frame():                        # first contact: this thread has its arena
            a.frame_array(4, F32)
        self.typed = a.typed_pool(PARTICLE, 8)
        self.slot = self.typed.acquire()
        self.pools = a.pools
        self.key = self.pools.acquire(24)
        self.scratch = a.scratch_pool("scratch", 4096)
        self.group = a.create_group("level")
        self.handles = a.handles
        self.handle = self.handles.alloc(8, F32)
        self.spare = self.handles.alloc(8, F32)
        self.handles.pin(self.handle)
        self.stream = a.streaming(1 << 20)
        self.asset = self.stream.reserve(64)
        self.stream.feed(self.asset, np.zeros(64, np.uint8))     # ready
        self.loading = self.stream.reserve(64)                   # not loaded yet
        self.layout = a.frame_layout(pos=((16, 3), F32), ids=(16, np.int32))
        self.box = a.pool_alloc(F32, 4)
        a.push_tag("t")
        a.pop_tag()
        if open_frame:
            a.begin_frame()
            self.cp = a.frame_checkpoint()
            a.frame_array(8, F32)
            self.scope = a.scope_begin()
            a.begin_phase("ctx")
            a.push_tag("ctx")
        else:
            a.begin_frame()
            self.cp = a.frame_checkpoint()
            a.end_frame()

    def objects(self) -> tuple:
        """Everything whose state a refused call must leave unchanged."""
        return (self.alloc, self.typed, self.pools, self.scratch, self.handles, self.stream)


def _frame_call(name, *args, **kw):
    return lambda c: getattr(c.alloc, name)(*args, **kw)


SMARTALLOC = {
    "begin_frame": (lambda c: c.alloc.begin_frame(), {"open_frame": False}),
    "begin_phase": lambda c: c.alloc.begin_phase("p"),
    "checkpoint_guard": lambda c: c.alloc.checkpoint_guard(),
    "scope": lambda c: c.alloc.scope(),
    "scope_begin": lambda c: c.alloc.scope_begin(),
    "scope_end": lambda c: c.alloc.scope_end(c.scope),
    "close": lambda c: c.alloc.close(),
    "closed": lambda c: c.alloc.closed,
    "compact": lambda c: c.alloc.compact(),
    "create_group": lambda c: c.alloc.create_group("g2"),
    "current_phase": lambda c: c.alloc.current_phase,
    "current_tag": lambda c: c.alloc.current_tag,
    "current_tag_id": lambda c: c.alloc.current_tag_id,
    "end_frame": lambda c: c.alloc.end_frame(),
    "end_frame_with_promotions": lambda c: c.alloc.end_frame_with_promotions(),
    "end_phase": lambda c: c.alloc.end_phase(),
    "frame": (lambda c: c.alloc.frame().__enter__(), {"open_frame": False}),
    "frame_alloc": _frame_call("frame_alloc", F32),
    "frame_alloc_2": _frame_call("frame_alloc_2", F32),
    "frame_alloc_4": _frame_call("frame_alloc_4", F32),
    "frame_alloc_8": _frame_call("frame_alloc_8", F32),
    "frame_alloc_batch": _frame_call("frame_alloc_batch", PARTICLE, 10),
    "frame_array": _frame_call("frame_array", (2, 3), F32),
    "frame_box": _frame_call("frame_box", np.arange(3.0)),
    "frame_box_for_transfer": _frame_call("frame_box_for_transfer", np.arange(3.0)),
    "frame_checkpoint": lambda c: c.alloc.frame_checkpoint(),
    **{p + m: _frame_call(p + m, np.arange(3.0)) for p in ("", "try_") for m in (
        "frame_empty_like", "frame_zeros_like", "frame_copy", "frame_nonzero", "frame_where")},
    **{p + m: _frame_call(p + m, *args) for p in ("", "try_") for m, args in (
        ("frame_full", ((2, 2), 1.0)), ("frame_full_like", (np.arange(3.0), 2)),
        ("frame_arange", (1, 5, 2)), ("frame_concatenate", ((np.zeros(2), np.ones(3)),)),
        ("frame_stack", ((np.zeros(2), np.ones(2)), 1)),
        ("frame_take", (np.arange(3.0), np.array([2, 0]))),
        ("frame_compress", (np.array([True, False]), np.arange(3.0))))},
    "frame_eval": _frame_call("frame_eval", np.hypot, np.arange(3.0), 2.0),
    "try_frame_eval": _frame_call("try_frame_eval", np.hypot, np.arange(3.0), 2.0),
    "frame_layout": lambda c: c.alloc.frame_layout(x=(4, F32)),
    "frame_map": _frame_call("frame_map", np.int64, F32, 8),
    "frame_number": lambda c: c.alloc.frame_number,
    "frame_retained": lambda c: c.alloc.frame_retained(F32, fa.RetentionPolicy.PromoteToHeap, 4),
    "frame_slice": _frame_call("frame_slice", F32, 5),
    "frame_vec": _frame_call("frame_vec", F32, 8),
    "frame_with_importance": lambda c: c.alloc.frame_with_importance(
        np.float64(1.5), fa.Importance.Reusable),
    "frame_zeros": _frame_call("frame_zeros", 4, F32),
    "free_group": lambda c: c.alloc.free_group(c.group),
    "get_scratch_pool": lambda c: c.alloc.get_scratch_pool("scratch"),
    "group_alloc": lambda c: c.alloc.group_alloc(c.group, 4, F32),
    "group_box": lambda c: c.alloc.group_box(c.group, np.arange(2)),
    "group_stats": lambda c: c.alloc.group_stats(c.group),
    "handles": lambda c: c.alloc.handles,
    "heap_array": lambda c: c.alloc.heap_array(4, F32),
    "heap_box": lambda c: c.alloc.heap_box(np.arange(2)),
    "heap_vec": lambda c: c.alloc.heap_vec(4, F32),
    "in_frame": lambda c: c.alloc.in_frame,
    "last_promotions": lambda c: c.alloc.last_promotions,
    "phase": lambda c: c.alloc.phase("p"),
    "phase_stats": lambda c: c.alloc.phase_stats(),
    "pool_alloc": lambda c: c.alloc.pool_alloc(F32, 3),
    "pool_box": lambda c: c.alloc.pool_box(np.float64(2.0)),
    "pool_free": lambda c: c.alloc.pool_free(c.box),
    "pools": lambda c: c.alloc.pools,
    "pop_tag": lambda c: c.alloc.pop_tag(),
    "push_tag": lambda c: c.alloc.push_tag("u"),
    "retained_in_frame": lambda c: c.alloc.retained_in_frame,
    "rollback_to": lambda c: c.alloc.rollback_to(c.cp),
    "scratch_array": lambda c: c.alloc.scratch_array(c.scratch.id, 4, F32),
    "scratch_pool": lambda c: c.alloc.scratch_pool("other", 1024),
    "scratch_pools": lambda c: c.alloc.scratch_pools(),
    "scratch_reset": lambda c: c.alloc.scratch_reset(c.scratch.id),
    "scratch_used": lambda c: c.alloc.scratch_used(c.scratch.id),
    "scratch_zeros": lambda c: c.alloc.scratch_zeros(c.scratch.id, 4, F32),
    "set_budget": lambda c: c.alloc.set_budget(None, 1 << 30),
    "set_tag_budget": lambda c: c.alloc.set_tag_budget("t", None, 1 << 30),
    "set_thread_frame_budget": lambda c: c.alloc.set_thread_frame_budget(None, 1 << 30),
    "speculative": lambda c: c.alloc.speculative(lambda: 1),
    "stats": lambda c: c.alloc.stats(),
    "history": lambda c: c.alloc.history(),
    "snapshot": lambda c: c.alloc.snapshot(),
    "check_behaviour": lambda c: c.alloc.check_behaviour(),
    "behaviour_events": lambda c: c.alloc.behaviour_events,
    "trace": lambda c: c.alloc.trace(os.devnull).__enter__(),
    "streaming": lambda c: c.alloc.streaming(1024),
    "task_frame": lambda c: c.alloc.task_frame(),
    "tag": lambda c: c.alloc.tag("t").__enter__(),
    "tag_id": lambda c: c.alloc.tag_id("t"),
    "tag_name": lambda c: c.alloc.tag_name(0),
    "trim": lambda c: c.alloc.trim(),
    "try_frame_alloc": _frame_call("try_frame_alloc", F32),
    "try_frame_alloc_2": _frame_call("try_frame_alloc_2", F32),
    "try_frame_alloc_4": _frame_call("try_frame_alloc_4", F32),
    "try_frame_alloc_8": _frame_call("try_frame_alloc_8", F32),
    "try_frame_alloc_batch": _frame_call("try_frame_alloc_batch", PARTICLE, 10),
    "try_frame_array": _frame_call("try_frame_array", (2, 3), F32),
    "try_frame_box": _frame_call("try_frame_box", np.arange(3.0)),
    "try_frame_map": _frame_call("try_frame_map", np.int64, F32, 8),
    "try_frame_slice": _frame_call("try_frame_slice", F32, 5),
    "try_frame_vec": _frame_call("try_frame_vec", F32, 8),
    "try_frame_zeros": _frame_call("try_frame_zeros", 4, F32),
    "try_scratch_array": lambda c: c.alloc.try_scratch_array(c.scratch.id, 4, F32),
    "try_scratch_zeros": lambda c: c.alloc.try_scratch_zeros(c.scratch.id, 4, F32),
    "typed_pool": lambda c: c.alloc.typed_pool(F32, 4),
    "with_tag": lambda c: c.alloc.with_tag("t", lambda: 1),
}

TYPED_POOL = {
    "acquire": lambda c: c.typed.acquire(),
    "acquire_handle": lambda c: c.typed.acquire_handle(),
    "acquire_many": lambda c: c.typed.acquire_many(2),
    "alive": lambda c: c.typed.alive,
    "capacity": lambda c: c.typed.capacity,
    "clear": lambda c: c.typed.clear(),
    "close": lambda c: c.typed.close(),
    "closed": lambda c: c.typed.closed,
    "data": lambda c: c.typed.data,
    "dtype": lambda c: c.typed.dtype,
    "generation": lambda c: c.typed.generation(c.slot),
    "handle": lambda c: c.typed.handle(c.slot),
    "index": lambda c: c.typed.index(c.slot),
    "info": lambda c: c.typed.info(),
    "is_alive": lambda c: c.typed.is_alive(c.slot),
    "live_indices": lambda c: c.typed.live_indices(),
    "policy": lambda c: c.typed.policy,
    "release": lambda c: c.typed.release(c.slot),
    "release_many": lambda c: c.typed.release_many(np.array([c.slot])),
    "reserve": lambda c: c.typed.reserve(64),
    "try_acquire": lambda c: c.typed.try_acquire(),
}

SIZE_CLASS_POOLS = {
    "acquire": lambda c: c.pools.acquire(40),
    "box": lambda c: c.pools.box(F32, 4),
    "class_index": lambda c: c.pools.class_index(40),
    "close": lambda c: c.pools.close(),
    "collect": lambda c: c.pools.collect(),
    "deferred_frees": lambda c: c.pools.deferred_frees,
    "info": lambda c: c.pools.info(),
    "is_live": lambda c: c.pools.is_live(c.key),
    "release": lambda c: c.pools.release(c.key),
    "size_classes": lambda c: c.pools.size_classes,
    "size_of": lambda c: c.pools.size_of(c.key),
    "trim": lambda c: c.pools.trim(),
    "try_acquire": lambda c: c.pools.try_acquire(40),
    "view": lambda c: c.pools.view(c.key, F32, 2),
}

SCRATCH_POOL = {
    "array": lambda c: c.scratch.array(4, F32),
    "available": lambda c: c.scratch.available,
    "box": lambda c: c.scratch.box(np.arange(3)),
    "capacity": lambda c: c.scratch.capacity,
    "closed": lambda c: c.scratch.closed,
    "id": lambda c: c.scratch.id,
    "name": lambda c: c.scratch.name,
    "reset": lambda c: c.scratch.reset(),
    "stats": lambda c: c.scratch.stats(),
    "try_array": lambda c: c.scratch.try_array(4, F32),
    "try_box": lambda c: c.scratch.try_box(np.arange(3)),
    "try_zeros": lambda c: c.scratch.try_zeros(4, F32),
    "used": lambda c: c.scratch.used,
    "zeros": lambda c: c.scratch.zeros(4, F32),
}

HANDLE_HEAP = {
    "alloc": lambda c: c.handles.alloc(4, F32),
    "compact": lambda c: c.handles.compact(),
    "free": lambda c: c.handles.free(c.spare),
    "info": lambda c: c.handles.info(),
    "is_pinned": lambda c: c.handles.is_pinned(c.handle),
    "is_valid": lambda c: c.handles.is_valid(c.handle),
    "pin": lambda c: c.handles.pin(c.handle),
    "resolve": lambda c: c.handles.resolve(c.handle),
    "unpin": lambda c: c.handles.unpin(c.handle),
}

STREAMING = {
    "access": lambda c: c.stream.access(c.asset),
    "evict": lambda c: c.stream.evict(c.asset),
    "feed": lambda c: c.stream.feed(c.loading, np.zeros(8, np.uint8)),
    "info": lambda c: c.stream.info(),
    "is_ready": lambda c: c.stream.is_ready(c.asset),
    "load": lambda c: list(c.stream.load(c.loading, io.BytesIO(bytes(64)))),
    "progress": lambda c: c.stream.progress(c.asset),
    "release": lambda c: c.stream.release(c.asset),
    "reserve": lambda c: c.stream.reserve(32),
    "used": lambda c: c.stream.used,
}

LAYOUT = {
    "alloc": lambda c: c.layout.alloc(),
    "names": lambda c: c.layout.names,
    "nbytes": lambda c: c.layout.nbytes,
}

#: class -> (how to reach its object in a Ctx, its calls)
TABLES = {
    fa.SmartAlloc: ("alloc", SMARTALLOC),
    fa.TypedPool: ("typed", TYPED_POOL),
    fa.SizeClassPools: ("pools", SIZE_CLASS_POOLS),
    fa.ScratchPool: ("scratch", SCRATCH_POOL),
    HandleHeap: ("handles", HANDLE_HEAP),
    StreamingAllocator: ("stream", STREAMING),
    fa.FrameLayout: ("layout", LAYOUT),
}


def call_of(entry):
    """(call, keyword arguments of the Ctx it needs) of a table entry."""
    return entry if isinstance(entry, tuple) else (entry, {})


def public_names(cls) -> set:
    """Public methods and properties of ``cls`` (what a user can call on it)."""
    out = set()
    for name in dir(cls):
        if name.startswith("_"):
            continue
        for klass in cls.__mro__:
            if name in vars(klass):
                attr = vars(klass)[name]
                break
        if isinstance(attr, property) or callable(attr):
            out.add(name)
    return out
