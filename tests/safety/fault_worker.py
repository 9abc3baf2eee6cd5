"""One run of the thread-fault suite, in its own process (``python -m tests.safety.fault_worker
SCENARIO SEED``): worker threads use one SmartAlloc from ``nogil`` @njit kernels and from Python,
each checking its own data, while the main thread calls ``close()`` at a random moment (and, in
the ``api`` scenario, every public method around it).

Exit status 0: no crash, no corrupted data, every failure an FA-coded error, memory released
once every thread is done (leases back to zero, no NRT allocation left). Anything else is a
failure: 3 = a check failed (printed), a negative status = killed by a signal.
"""
from __future__ import annotations

import gc
import json
import os
import random
import sys
import threading
import time

import numpy as np
from numba import njit

import framealloc as fa

F8 = np.float64

# -- kernels (module level, cache=True: compiled once for every run of the suite) ---------------


@njit(nogil=True, cache=True)
def frames_loop(a, stop, out, tid, n):
    """A frame per iteration: allocations, a collection, a checkpoint; every value checked."""
    for it in range(n):
        if stop[0] != 0:
            break
        a.begin_frame()
        m = 8 + it % 57
        x = a.frame_array(m, np.float64)
        for j in range(m):
            x[j] = tid * 1e6 + it + j
        v = a.frame_vec(np.int64, 4)
        v.push(it)
        cp = a.frame_checkpoint()
        y = a.frame_zeros((3, 5), np.float32)
        y[1, 2] = 7.0
        if y[1, 2] != 7.0 or y[0, 0] != 0.0:
            out[1] += 1
        a.rollback_to(cp)
        for j in range(m):
            if x[j] != tid * 1e6 + it + j:
                out[1] += 1
        if v.pop() != it:
            out[1] += 1
        a.end_frame()
        out[0] += 1


@njit(nogil=True, cache=True)
def frame_long(a, stop, out, tid, n):
    """One frame for the whole call, many allocations in it (the case that used to crash)."""
    a.begin_frame()
    for it in range(n):
        if stop[0] != 0:
            break
        x = a.frame_array(16, np.float32)
        x[0] = tid
        x[15] = it
        if x[0] != tid or x[15] != np.float32(it):
            out[1] += 1
        out[0] += 1
    a.end_frame()


@njit(nogil=True, cache=True)
def typed_loop(p, stop, out, tid, n):
    for it in range(n):
        if stop[0] != 0:
            break
        i = p.acquire()
        d = p.data
        d[i] = tid * 1e6 + it
        if p.data[i] != tid * 1e6 + it:
            out[1] += 1
        p.release(i)
        out[0] += 1


@njit(nogil=True, cache=True)
def classes_loop(pools, stop, out, tid, n):
    for it in range(n):
        if stop[0] != 0:
            break
        k = pools.acquire(24)
        v = pools.view(k, np.int64, 3)
        v[0] = tid
        v[2] = it
        if pools.view(k, np.int64, 3)[2] != it:
            out[1] += 1
        pools.release(k)
        out[0] += 1


@njit(nogil=True, cache=True)
def scratch_loop(a, sid, stop, out, tid, n):
    for it in range(n):
        if stop[0] != 0:
            break
        x = a.scratch_array(sid, 32, np.float64)
        x[31] = tid + it
        if x[31] != tid + it:
            out[1] += 1
        if it % 16 == 15:
            a.scratch_reset(sid)
        out[0] += 1


# -- the run ------------------------------------------------------------------------------------

class Run:
    def __init__(self, scenario: str, seed: int):
        self.rng = random.Random(seed)
        self.scenario = scenario
        self.alloc = fa.SmartAlloc()
        self.stop = np.zeros(1, np.int64)
        self.errors: list[str] = []
        self.counts: dict[str, list] = {}
        self.lock = threading.Lock()

    def fail(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)

    def expected_refusal(self, exc: BaseException) -> bool:
        code = getattr(exc, "code", "")
        return isinstance(code, str) and code.startswith("FA")

    def kernel_thread(self, name: str, call) -> threading.Thread:
        out = np.zeros(2, np.int64)
        self.counts[name] = out

        def body():
            try:
                while True:
                    call(out)            # returns when stopped; FA015 once the allocator closed
                    if self.stop[0]:
                        return
            except fa.FrameAllocError as e:
                if e.code != "FA015":
                    self.fail(f"{name}: {e.code} {e}")
            except Exception as e:   # noqa: BLE001 - anything uncoded is a failure
                self.fail(f"{name}: {type(e).__name__}: {e}")
        return threading.Thread(target=body, name=name)

    def python_thread(self, name: str, step) -> threading.Thread:
        out = np.zeros(2, np.int64)
        self.counts[name] = out

        def body():
            while not self.stop[0]:
                try:
                    step(out)
                    out[0] += 1
                except Exception as e:   # noqa: BLE001
                    if not self.expected_refusal(e):
                        self.fail(f"{name}: {type(e).__name__}: {e}")
                        return
                    if getattr(e, "code", "") == "FA015":
                        return
        return threading.Thread(target=body, name=name)

    # -- workers ---------------------------------------------------------------------------
    def workers(self) -> list:
        a, stop, s = self.alloc, self.stop, self.scenario
        ws = []
        want = {"frames": ("frames", "frame_long"), "typed": ("typed",), "classes": ("classes",),
                "scratch": ("scratch",), "python": ("py_frames", "py_pools", "frames"),
                "api": ("frames", "typed", "scratch"),
                "mixed": ("frames", "frame_long", "typed", "classes", "scratch", "py_frames",
                          "py_stats")}[s]
        for t in range(2 if s in ("frames", "typed", "scratch") else 1):
            if "frames" in want:
                ws.append(self.kernel_thread(f"frames{t}", lambda out, t=t: frames_loop(
                    a, stop, out, t, 200)))
            if "frame_long" in want:
                ws.append(self.kernel_thread(f"long{t}", lambda out, t=t: frame_long(
                    a, stop, out, t, 20000)))
            if "typed" in want:
                p = a.typed_pool(F8, 4)
                ws.append(self.kernel_thread(f"typed{t}", lambda out, t=t, p=p: typed_loop(
                    p, stop, out, t, 500)))
            if "scratch" in want:
                sid = a.scratch_pool(f"s{t}", 1 << 16).id
                ws.append(self.kernel_thread(f"scratch{t}", lambda out, t=t, sid=sid: scratch_loop(
                    a, sid, stop, out, t, 500)))
        if "classes" in want:                  # one @njit user of alloc.pools (documented rule)
            pools = a.pools
            ws.append(self.kernel_thread("classes", lambda out: classes_loop(
                pools, stop, out, 0, 500)))
        if "py_frames" in want:
            def py_frames(out):
                with a.frame():
                    x = a.frame_array(10, F8)
                    x[:] = 5.0
                    a.stats()
                    if x.sum() != 50.0:
                        out[1] += 1
            ws.append(self.python_thread("py_frames", py_frames))
        if "py_pools" in want:
            tp = a.typed_pool(F8, 4)

            def py_pools(out):
                with a.pool_alloc(F8, 3) as box:
                    box.array[:] = 2.0
                    if box.array.sum() != 6.0:
                        out[1] += 1
                i = tp.acquire()
                tp.data[i] = 3.0
                tp.release(i)
                a.heap_array(4, F8)
            ws.append(self.python_thread("py_pools", py_pools))
        if "py_stats" in want:
            ws.append(self.python_thread("py_stats", lambda out: a.stats()))
        return ws

    def warm(self) -> None:
        """Compile (or load) every kernel before the threads start."""
        a, stop = self.alloc, np.ones(1, np.int64)
        out = np.zeros(2, np.int64)
        frames_loop(a, stop, out, 0, 1)
        frame_long(a, stop, out, 0, 1)
        typed_loop(a.typed_pool(F8, 1), stop, out, 0, 1)
        classes_loop(a.pools, stop, out, 0, 1)
        scratch_loop(a, a.scratch_pool("warm", 64).id, stop, out, 0, 1)
        with a.frame():                      # the Python paths' kernels too
            a.frame_array(10, F8)
        a.stats()
        with a.pool_alloc(F8, 3):
            pass
        tp = a.typed_pool(F8, 1)
        tp.release(tp.acquire())
        a.heap_array(4, F8)

    def api_calls(self, when_closed_at: int) -> None:
        """Every public method of the allocator (valid calls), close() in the middle."""
        from tests.safety.api import SMARTALLOC, Ctx, call_of

        ctx = Ctx.__new__(Ctx)
        Ctx.__init__(ctx)                     # its own allocator for the table's objects...
        ctx.alloc.close()
        ctx.alloc = self.alloc                # ...but the calls go to the shared one
        names = sorted(n for n in SMARTALLOC if n != "close")
        self.rng.shuffle(names)
        for i, name in enumerate(names):
            if i == when_closed_at:
                self.alloc.close()
            try:
                call_of(SMARTALLOC[name])[0](ctx)
            except Exception as e:   # noqa: BLE001
                if not self.expected_refusal(e):
                    self.fail(f"api {name}: {type(e).__name__}: {e}")
                elif self.alloc.closed and e.code != "FA015" and name not in (
                        "closed", "stats", "scratch_pools"):
                    self.fail(f"api {name} after close: {e.code} {e}")

    def main(self) -> dict:
        from numba.core.runtime import rtsys

        self.warm()
        gc.collect()
        before = rtsys.get_allocation_stats()
        ws = self.workers()
        for w in ws:
            w.start()
        time.sleep(self.rng.uniform(0.0, 0.25))
        if self.scenario == "api":
            self.api_calls(self.rng.randrange(0, 40))
        in_flight = self.alloc._lease.holders()   # compiled calls holding it as close() starts
        self.alloc.close()
        time.sleep(self.rng.uniform(0.0, 0.1))
        self.stop[0] = 1
        for w in ws:
            w.join(60)
            if w.is_alive():
                self.fail(f"{w.name} did not finish")
        if not self.alloc._released:
            self.fail("memory not released after every thread finished")
        for name, out in self.counts.items():
            if out[1]:
                self.fail(f"{name}: {out[1]} corrupted values")
        ws.clear()
        self.alloc = None
        gc.collect()
        after = rtsys.get_allocation_stats()
        live = (after.alloc - after.free) - (before.alloc - before.free)
        if live > 0:
            self.fail(f"{live} NRT allocations left after every thread finished")
        return {"in_flight_at_close": in_flight, "errors": self.errors,
                "iterations": {k: int(v[0]) for k, v in self.counts.items()}}


if __name__ == "__main__":
    result = Run(sys.argv[1], int(sys.argv[2])).main()
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(3 if result["errors"] else 0)
