"""asyncio task frames: each task its own arena (no aliasing across tasks, in Python and @njit),
exact stats, arenas reused (memory flat over 10 000 tasks), coded errors.

(``# noqa: FA701/FA702``: the linter does not yet know that a task frame is the task's own.)"""
from __future__ import annotations

import asyncio
import doctest

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc.integrations import tasks
from framealloc.integrations.tasks import task_arenas


@njit
def njit_fill(alloc, value, n):
    a = alloc.frame_array(n, np.int64)
    for i in range(n):
        a[i] = value
    return a


def test_1000_concurrent_tasks_own_their_data_and_stats_are_exact():
    alloc = fa.SmartAlloc(fa.AllocConfig(max_threads=1100))
    rng = np.random.default_rng(7)
    plans = [rng.integers(1, 40, size=int(rng.integers(2, 6))).tolist() for _ in range(1000)]
    with alloc.frame():
        njit_fill(alloc, 0, 1)                   # compile before the tasks run
    base = alloc.stats().frame.allocated

    async def worker(k, sizes):
        async with alloc.task_frame():
            mine = []
            for r, n in enumerate(sizes):
                if r % 2:
                    a = njit_fill(alloc, k * 100 + r, n)      # the task's arena inside @njit
                else:
                    a = alloc.frame_array(n, np.int64)  # noqa: FA701
                    a[:] = k * 100 + r
                mine.append((a, k * 100 + r))  # noqa: FA702
                await asyncio.sleep(0 if (k + r) % 3 else 0.0005)
                for arr, v in mine:        # nobody wrote over them  # noqa: FA702
                    assert (arr == v).all(), (k, r)
            return sum(a.nbytes for a, _ in mine)  # noqa: FA702

    async def main():
        return await asyncio.gather(*(worker(k, p) for k, p in enumerate(plans)))

    got = asyncio.run(main())
    assert got == [8 * sum(p) for p in plans]
    s = alloc.stats()
    assert s.frame.allocated - base == 8 * sum(map(sum, plans))   # int64: no padding
    assert s.frame.current == 0 and s.frame.frames_open == 0
    sets = task_arenas(alloc)
    assert sets.taken == 1000 and sets.in_use == 0 and sets.created == sets.free <= 1000
    assert sets.created > 100, "the tasks ran concurrently"


def test_arenas_are_reused_memory_flat_over_10000_tasks():
    alloc = fa.SmartAlloc(fa.AllocConfig(max_threads=300))

    async def worker(k):
        async with alloc.task_frame():
            a = alloc.frame_array(64 + k % 5, np.float64)  # noqa: FA701
            a[:] = k
            await asyncio.sleep(0)
            assert (a == k).all()  # noqa: FA702

    reserved = []

    async def main():
        for batch in range(40):                         # 40 x 250 = 10 000 tasks
            await asyncio.gather(*(worker(batch * 250 + i) for i in range(250)))
            reserved.append(alloc.stats().frame.reserved)

    asyncio.run(main())
    sets = task_arenas(alloc)
    assert sets.taken == 10_000 and sets.created <= 250 and sets.free == sets.created
    assert len(set(reserved[1:])) == 1, "memory flat once every arena exists"
    assert alloc.stats().frame.allocated >= 10_000 * 64 * 8


def test_task_arena_is_separate_from_the_thread_and_child_tasks():
    alloc = fa.SmartAlloc()
    seen = {}

    async def child():
        # no task frame of its own: it does not get the parent's arena
        seen["child_in_frame"] = alloc.in_frame
        async with alloc.task_frame():
            seen["child_arena"] = alloc._frame_part.arena().slot

    async def parent():
        async with alloc.task_frame():
            seen["parent_arena"] = alloc._frame_part.arena().slot
            await asyncio.create_task(child())
            assert alloc.in_frame
        seen["after"] = alloc.in_frame

    with alloc.frame():                      # the thread's own frame, open around the loop
        thread_slot = alloc._frame_part.arena().slot
        x = alloc.frame_array(3, np.int64)
        x[:] = 9
        asyncio.run(parent())
        assert (x == 9).all() and alloc.in_frame
    assert seen["child_in_frame"] is True            # the thread's frame, not the parent's
    assert len({thread_slot, seen["parent_arena"], seen["child_arena"]}) == 3
    assert seen["after"] is True                     # back on the thread's (open) frame


def test_budgets_and_tags_attribute_per_task():
    alloc = fa.SmartAlloc()

    async def capped():
        async with alloc.task_frame():
            alloc.set_thread_frame_budget(hard=1024)
            # 4 KiB > this task's cap
            assert alloc.try_frame_array(512, np.float64) is None  # noqa: FA701
            with alloc.tag("io"):
                alloc.frame_array(16, np.float64)  # noqa: FA701

    async def free():
        async with alloc.task_frame():
            await asyncio.sleep(0)
            alloc.frame_array(512, np.float64)      # another arena: not capped  # noqa: FA701

    async def main():
        await asyncio.gather(capped(), free())

    asyncio.run(main())
    assert alloc.stats().tags["io"].allocated == 128


def test_errors_have_codes():
    alloc = fa.SmartAlloc(fa.AllocConfig(max_threads=2))

    coro = alloc.task_frame().__aenter__()           # no event loop, no task
    with pytest.raises(fa.TaskFrameError) as ei:
        coro.send(None)
    assert ei.value.code == "FA182"

    async def nested():
        async with alloc.task_frame():
            with pytest.raises(fa.TaskFrameError) as ei:
                async with alloc.task_frame():
                    pass
            assert ei.value.code == "FA183"
            tf = alloc.task_frame()
            async with tf:
                pass
        return True

    with pytest.raises(fa.TaskFrameError):
        asyncio.run(nested())

    async def nested_ok():
        async with alloc.task_frame():
            with pytest.raises(fa.TaskFrameError) as ei:
                async with alloc.task_frame():
                    pass
            assert ei.value.code == "FA183"
            alloc.frame_array(4)  # noqa: FA701
        return task_arenas(alloc).in_use

    assert asyncio.run(nested_ok()) == 0

    async def too_many():
        async def hold():
            async with alloc.task_frame():
                await asyncio.sleep(0.01)
        await asyncio.gather(*(hold() for _ in range(3)))

    with pytest.raises(fa.ConfigError) as ei:           # 2 slots: the main thread's + one
        asyncio.run(too_many())
    assert ei.value.code == "FA012"
    assert task_arenas(alloc).in_use == 0
    for bad in (0, 63, 1.5, True, "64"):
        with pytest.raises(fa.IntegrationError) as ei:
            alloc.task_frame(chunk_size=bad)
        assert ei.value.code == "FA180"
    alloc.close()

    async def closed():
        async with alloc.task_frame():
            pass

    with pytest.raises(fa.FrameStateError) as ei:
        asyncio.run(closed())
    assert ei.value.code == "FA015"


def test_close_inside_a_task_frame():
    alloc = fa.SmartAlloc()

    async def job():
        async with alloc.task_frame():
            alloc.frame_array(8)  # noqa: FA701
            alloc.close()

    asyncio.run(job())
    assert alloc.closed and task_arenas(alloc).in_use == 0


def test_threads_keep_their_arena_in_task_mode():
    import threading

    alloc = fa.SmartAlloc()

    async def job():
        async with alloc.task_frame():
            return alloc._frame_part.arena().slot

    task_slot = asyncio.run(job())
    slots = []

    def thread():
        with alloc.frame():
            a = njit_fill(alloc, 5, 10)
            slots.append((alloc._frame_part.arena().slot, int(a.sum())))

    t = threading.Thread(target=thread)
    t.start()
    t.join()
    assert slots[0][1] == 50 and slots[0][0] != task_slot


def test_docstring_examples():
    result = doctest.testmod(tasks, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
