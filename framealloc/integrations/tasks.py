"""asyncio integration: task-scoped frames (``async with alloc.task_frame():``).

Many asyncio tasks share one thread, so the thread's frame arena cannot serve them: one task's
``end_frame`` would free another's data across an ``await``. ``async with alloc.task_frame():``
gives the *current task* an arena of its own for the block, taken from a reusable set and given
back when the block ends (its frame ended, every allocation freed at once). Inside the block every
frame call of that task goes to its arena (a :mod:`contextvars` variable selects it, so other
tasks on the thread keep theirs), and so do the ``@njit`` functions the task passes the allocator
to. Tags, budgets (``set_thread_frame_budget``) and phases apply per task arena; ``alloc.stats()``
lists each arena as a thread entry named after the task that last used it.

How it works: a task arena is a thread slot of the allocator (``AllocConfig.max_threads`` bounds
threads plus task frames open at once; FA012 beyond). The first task frame of an allocator switches
it to *task mode* for good: the calling context decides which arena a frame call uses (about
0.1 us more per call than a thread's arena), and an allocator passed to @njit code is unboxed
through ``_native_handle()`` on every call instead of the per-thread native table (about
0.3-0.5 us more per call), so each call sees the arena of the task that makes it.

Rules: one task frame per task and allocator (FA183); a task frame needs a running task (FA182).
A child task does not inherit its parent's arena (it uses its own task frame, or the thread's);
code sent to another thread (``asyncio.to_thread``) uses that thread's arena. A budget set with
``set_thread_frame_budget`` inside a task frame lasts until the block ends (the arena goes back
to the set without it).

Example
-------
>>> import asyncio, numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> async def worker(k):
...     async with alloc.task_frame():
...         a = alloc.frame_array(4, np.int64)
...         a[:] = k
...         await asyncio.sleep(0)              # the other tasks run and allocate here
...         return a.tolist()
>>> async def main():
...     return await asyncio.gather(*(worker(k) for k in range(3)))
>>> asyncio.run(main())
[[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2]]
"""
from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from _thread import get_ident

from .._dtypes import MAX_BYTES
from ..errors import error
from ..kernels import status as ST

__all__ = ["TaskFrame", "TaskArenas", "task_arenas"]

_current_task = asyncio.current_task


class TaskArenas:
    """The reusable set of task arenas of one allocator (:func:`task_arenas`).

    ``created``: arenas made so far (slots taken); ``free``: arenas waiting for a task;
    ``in_use``: arenas held by task frames now; ``taken``: task frames entered in all.
    """

    def __init__(self, alloc):
        self._alloc = weakref.ref(alloc)
        self.var: contextvars.ContextVar = contextvars.ContextVar(f"framealloc_task_{alloc._id}",
                                                                  default=None)
        self.lock = threading.Lock()
        self._free: list = []
        self.created = 0
        self.in_use = 0
        self.taken = 0
        self._enable(alloc)

    @property
    def free(self) -> int:
        return len(self._free)

    def _enable(self, alloc) -> None:
        """Task mode: the allocator's thread-local record resolves ``arena`` through the
        context variable first (see framealloc.alloc._Tls)."""
        frames = alloc._frame_part
        var = self.var

        base: type = type(frames.tls)      # framealloc.alloc._Tls

        class _TaskTls(base):   # a subclass of the allocator's thread-local class, made at run time
            @property
            def arena(self):
                v = var.get()
                if v is not None and v[1] == get_ident() and v[2] is _current_task():
                    return v[0]
                try:
                    return self.__dict__["arena"]
                except KeyError:
                    raise AttributeError("arena") from None

            @arena.setter
            def arena(self, ta):
                self.__dict__["arena"] = ta

        with frames.lock:
            frames.task_mode = True         # compiled calls unbox through _native_handle()
            frames.ntab["ident"][1:] = 0    # ... from now on, not from the native table
            frames.tls.__class__ = _TaskTls

    def take(self, chunk_size: int | None):
        with self.lock:
            if self._free:
                ta = self._free.pop()
            else:
                ta = None
            self.in_use += 1
            self.taken += 1
        if ta is None:
            alloc = self._alloc()
            try:
                ta = alloc._frame_part.attach(bind=False)     # FA012 when no slot is free
            except BaseException:
                with self.lock:
                    self.in_use -= 1
                    self.taken -= 1
                raise
            rows = alloc._frame_part.rows
            if chunk_size is not None and alloc.config.on_frame_exhausted == "grow":
                rows["chunk_size"][ta.slot, :] = chunk_size
            with self.lock:
                self.created += 1
        return ta

    def give_back(self, ta) -> None:
        with self.lock:
            self.in_use -= 1
            self._free.append(ta)


_sets: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_sets_lock = threading.Lock()


def task_arenas(alloc) -> TaskArenas:
    """The allocator's set of task arenas (made, and task mode switched on, on first use).

    >>> import framealloc as fa
    >>> from framealloc.integrations.tasks import task_arenas
    >>> s = task_arenas(fa.SmartAlloc()); (s.created, s.in_use, s.free)
    (0, 0, 0)
    """
    try:
        return _sets[alloc]
    except KeyError:
        with _sets_lock:
            s = _sets.get(alloc)
            if s is None:
                s = _sets[alloc] = TaskArenas(alloc)
            return s


class TaskFrame:
    """``async with alloc.task_frame():`` (see the module docstring). The block's value is the
    allocator. ``chunk_size``: the first chunk of a task arena made for this frame (default
    64 KiB: many tasks, little memory each; it grows to each arena's peak like any frame arena)."""

    __slots__ = ("alloc", "chunk_size", "_ta", "_token")

    DEFAULT_CHUNK = 64 * 1024

    def __init__(self, alloc, chunk_size: int | None = None):
        if chunk_size is None:
            chunk_size = self.DEFAULT_CHUNK
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) \
                or not 64 <= chunk_size <= MAX_BYTES:
            raise error(ST.INTEGRATION_ARG,
                        what=f"task_frame chunk_size must be an int of at least 64 bytes, got "
                             f"{chunk_size!r}", advice="pass a number of bytes, e.g. 65536")
        self.alloc = alloc
        self.chunk_size = chunk_size
        self._ta = None
        self._token = None

    async def __aenter__(self):
        alloc = self.alloc
        try:
            task = _current_task()
        except RuntimeError:            # no running event loop
            task = None
        if task is None:
            raise error(ST.NOT_IN_TASK)
        if alloc.closed:
            alloc._raise_closed()
        if self._ta is not None:
            raise error(ST.TASK_FRAME_OPEN)
        arenas = task_arenas(alloc)
        held = arenas.var.get()
        if held is not None and held[2] is task and held[1] == get_ident():
            raise error(ST.TASK_FRAME_OPEN)
        ta = arenas.take(self.chunk_size)
        ta.name = task.get_name()
        self._token = arenas.var.set((ta, get_ident(), task))
        self._ta = ta
        try:
            alloc.begin_frame()
        except BaseException:
            self._leave(arenas)
            raise
        return alloc

    def _leave(self, arenas) -> None:
        # The task's own budget does not follow the arena to its next task (cheap when unset).
        assert self._ta is not None, "left a task frame that was not entered"
        self.alloc._org_part._reset_thread_budget(self._ta.slot)
        arenas.var.reset(self._token)
        arenas.give_back(self._ta)
        self._ta = self._token = None

    async def __aexit__(self, exc_type, exc, tb) -> None:
        arenas = task_arenas(self.alloc)
        try:
            if not self.alloc.closed and self.alloc.in_frame:
                self.alloc.end_frame()
        finally:
            self._leave(arenas)
