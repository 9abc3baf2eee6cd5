"""Static-analysis diagnostic codes (``FA2xx``, ``FA3xx``, ``FA6xx``, ``FA7xx``, ``FA8xx``).

``CODES`` maps each code to a :class:`framealloc.errors.CodeInfo`; :mod:`framealloc.errors`
merges it lazily so ``framealloc.explain("FA601")`` works for lint codes as well as runtime codes.
``SEVERITY`` gives each code's default severity. Codes are stable: a code is never renumbered or
reused, new checks only ever get new numbers.

Families
--------
FA2xx threading: frame data crossing to another thread.
FA3xx budgets: allocation that can grow without a limit.
FA6xx lifetime: frame data outliving its frame, unmatched frames, hot-loop heap allocation.
FA7xx async: frame data and open frames across ``await``.
FA8xx architecture: tags and where they may be used.
"""
from __future__ import annotations

from typing import Literal

from framealloc.kernels.status import CodeInfo

__all__ = ["CODES", "SEVERITY", "FAMILIES", "Severity", "family_of"]

Severity = Literal["error", "warning"]

#: Family prefix (``"FA6"``) to its name; the only families lint codes may use.
FAMILIES: dict[str, str] = {
    "FA2": "threading",
    "FA3": "budgets",
    "FA6": "lifetime",
    "FA7": "async",
    "FA8": "architecture",
}

CODES: dict[str, CodeInfo] = {}
SEVERITY: dict[str, Severity] = {}

_SUPPRESS = "Silence one line with `# noqa: {code}` or `# framealloc: allow {code}`."


def _add(code: str, severity: Severity, title: str, explanation: str) -> None:
    assert code not in CODES, f"duplicate lint code {code}"
    assert code[:3] in FAMILIES, f"{code} is outside the lint families {sorted(FAMILIES)}"
    text = explanation.strip() + "\n" + _SUPPRESS.format(code=code)
    CODES[code] = CodeInfo(code, title, text)
    SEVERITY[code] = severity


def family_of(code: str) -> str:
    """The family name of a lint code, e.g. ``"lifetime"`` for ``"FA601"``."""
    return FAMILIES.get(code[:3], "unknown")


# --- FA2xx threading ---------------------------------------------------------------------------
_add("FA201", "error", "frame data passed to a thread", """
A frame allocation (or a view of one, or a closure that captures one) is handed to a new thread
through `threading.Thread(target=..., args=..., kwargs=...)`, `threading.Timer` or
`_thread.start_new_thread`. Frame memory belongs to the allocating thread's arena and is recycled
at that thread's next `end_frame()`, while the other thread may still be reading it.
What to do: hand the data over with `handle = alloc.frame_box_for_transfer(arr)` and let the
worker call `handle.receive()`, or give the thread its own copy (`arr.copy()`) or pool memory.""")
_add("FA202", "error", "frame data handed to an executor or worker pool", """
A frame allocation is passed to `executor.submit(...)`, `executor.map(...)`, a multiprocessing
pool (`apply_async`, `map_async`, `starmap`, `imap`, ...), `loop.run_in_executor(...)` or
`asyncio.to_thread(...)`. The task runs on another thread at a time the frame does not control, so
the memory may already be recycled when it runs. Work whose results the same expression collects
(`pool.submit(f, arr).result()`, `list(pool.map(f, rows))`, `for r in pool.map(...)`) is not
reported.
What to do: pass `alloc.frame_box_for_transfer(arr)` and `receive()` it in the task, copy the data
(`arr.copy()`), or wait for the result before the frame ends and allocate it from a pool.""")
_add("FA203", "error", "frame data put on a queue", """
A frame allocation is put on a queue (`q.put(...)` / `q.put_nowait(...)` on a `queue.Queue`,
`multiprocessing.Queue`, `asyncio.Queue` or any receiver named like a queue). The consumer reads
it later, usually after the producing frame has ended and its memory was reused.
What to do: put `alloc.frame_box_for_transfer(arr)` on the queue and `receive()` it on the other
side, or put a copy (`arr.copy()`) or pool-backed data.""")

# --- FA3xx budgets -----------------------------------------------------------------------------
_add("FA301", "warning", "allocation in an unbounded loop without a budget", """
A loop with no static bound (`while True:`, `while 1:`, `for ... in itertools.count()`) allocates
from framealloc (frame_*, pool_alloc/pool_box, heap_*), the memory is not reclaimed inside the loop
(no `end_frame()` / `with alloc.frame():` in the loop body for frame memory, no `free()`/`release()`
or `with` block for pool/heap memory), and the module never sets a budget. Such a loop can grow
memory without limit and nothing will stop it.
What to do: end the frame every iteration, or set a limit so growth is caught: call
`alloc.set_thread_frame_budget(...)`, `alloc.set_tag_budget(tag, ...)` (any `set_*budget(...)` call
in the module counts), or pass a `*budget*` field to `AllocConfig(...)`.""")

# --- FA6xx lifetime ----------------------------------------------------------------------------
_add("FA601", "error", "frame data stored on an object", """
A frame allocation (or a view of it) is stored on an object that outlives the frame: assigned to an
attribute of `self` or of a module-level object (or of a parameter, when the function opens the
frame itself), appended to a list held by one (`self.items.append(arr)`), stored into a dict or
list created as such (`self.cache[k] = arr`), or set with `setattr`. At `end_frame()` the memory
is recycled and the object keeps a view of data that the next frame overwrites. Copying into
existing storage (`self.buf[:] = arr`, `np.add(a, arr, out=self.buf)`) and updating it in place
(`self.total += arr`) are fine and not reported; growing a long-lived list (`self.items += [arr]`)
is.
What to do: store a copy (`arr.copy()`), allocate long-lived data with `alloc.pool_alloc(...)` /
`alloc.heap_array(...)`, or mark it with `alloc.frame_retained(..., policy)` and collect it from
`end_frame_with_promotions()`.""")
_add("FA602", "error", "frame data stored in a global or nonlocal variable", """
Inside a function, a frame allocation is assigned to a name declared `global` or `nonlocal`, or
stored into a module-level container (`CACHE.append(arr)`, `CACHE[k] = arr`). The variable
outlives the frame, so later readers see recycled memory.
What to do: store a copy (`arr.copy()`) or pool/heap memory (`alloc.pool_alloc`,
`alloc.heap_array`), or return the values the caller needs instead of the frame view.""")
_add("FA603", "error", "frame data captured by a closure that outlives the frame", """
A `lambda`, a nested `def` or a `functools.partial` captures frame data, and the closure escapes
(it is returned, stored on an object or a global) or is called after the frame ended. When it
runs, the captured views point at memory that a later frame reuses.
What to do: capture copies (`arr.copy()`) or pool/heap data, or call the closure before the frame
ends.""")
_add("FA604", "error", "frame data returned from the function that opened the frame", """
A function opens a frame (`alloc.begin_frame()` or `with alloc.frame():`) and returns frame data
allocated in it. The frame ends in (or is left open by) this function, so the caller receives a
view of memory that is recycled at `end_frame()`.
What to do: return a copy (`arr.copy()`) or pool/heap memory, or let the caller open the frame and
pass the allocator in.""")
_add("FA605", "error", "frame data used after its frame ended or was rolled back", """
A name bound to a frame allocation is used after `alloc.end_frame()` (or
`end_frame_with_promotions()`) on the same allocator, after the `with alloc.frame():` block it
was allocated in has exited, or after a rollback to a checkpoint taken before the allocation
(`cp = alloc.frame_checkpoint()` ... `alloc.rollback_to(cp)`, `s = alloc.scope_begin()` ...
`alloc.scope_end(s)`, the end of `with alloc.scope():`, or of `with alloc.checkpoint_guard():`
when no `commit()` ran), or after its `async with alloc.task_frame():` block, on at least one
path. Its memory may already hold the next frame's (or the next allocation's) data (in debug
mode it reads as NaN). Each statement is reported once per name, at the first use
(`framealloc lint --show-all` lists every use). `x += arr` writes into `x` and does not make `x`
frame memory; values read out of frame memory (`float(arr[0])`, `arr.sum()`, `arr.copy()`) are
not frame memory either.
What to do: finish using the data before the frame ends (or before the rollback), copy what must
survive (`arr.copy()`), allocate it before the checkpoint, or use `alloc.frame_retained(...)` and
`end_frame_with_promotions()` to keep it.""")
_add("FA606", "error", "begin_frame() not matched by end_frame() on every path", """
After `alloc.begin_frame()`, some path leaves the function (a `return`, a `raise`, falling off the
end), leaves a loop (`break`) or starts the next iteration (`continue`) without `end_frame()`.
The frame stays open: its memory is never reset and the next `begin_frame()` raises FA002.
What to do: use `with alloc.frame():`, or put `alloc.end_frame()` in a `finally:` block.
Deliberate openers are not reported for leaving the frame open: functions named `begin_frame`,
`__enter__`, `begin*`/`start*`/`open*`/`enter*`, and functions that do not end the frame after
beginning it while another place in the module ends it on the same receiver (a `begin()`/`finish()`
pair of methods, or an `end_frame(); begin_frame()` rollover). An `end_frame()` in a `finally:`
block counts as matched, even behind an `if`; `if not alloc.in_frame:` guards are understood.""")
_add("FA607", "warning", "heap allocation inside a loop of an @njit function", """
A loop inside an `@njit` / `@numba.njit` / `@jit` (nopython) function calls a NumPy allocator
(`np.empty`, `np.zeros`, `np.ones`, `np.full`, `np.*_like`, `np.array`, `np.arange`, ...) or grows a
list (`.append`/`.extend`/`.insert` on a list built in the function). Each call goes through
Numba's runtime allocator (tens of nanoseconds, atomic reference counting) on every iteration.
What to do: pass `alloc` into the kernel and allocate per-iteration scratch with
`alloc.frame_array(...)`, allocate a whole batch once with `alloc.frame_alloc_batch(dtype, n)`
before the loop, or hoist the allocation out of the loop and reuse it.""")

# --- FA7xx async -------------------------------------------------------------------------------
_add("FA701", "warning", "frame allocation inside async def", """
A frame allocation is made directly in an `async def`, outside an `async with alloc.task_frame():`
block of the same allocator. Coroutines interleave on one thread: while this task is suspended
another task can end the thread's frame, and that frame is not tied to the task's lifetime.
What to do: allocate inside `async with alloc.task_frame():` (a frame that belongs to the task:
its data may live across `await`s until the block ends), use task-scoped memory (pool allocations
that the task frees, `alloc.pool_box(...)` in a `with` block) or do the frame work in a
synchronous helper that finishes before the next `await`.""")
_add("FA702", "error", "frame data held across await", """
A name bound to a frame allocation is used after an `await` (or `async for` / `async with`) that
came after the allocation. During the suspension other tasks run and may end the frame, so the
data may be recycled by the time this task resumes. Data allocated inside `async with
alloc.task_frame():` from the same allocator is the task's own and is not reported (FA605 reports
its use after the block).
What to do: finish with frame data before awaiting, copy what must survive (`arr.copy()`),
allocate it inside `async with alloc.task_frame():`, or use task-scoped pool memory.""")
_add("FA703", "warning", "await while a frame is open", """
An `await` runs inside `with alloc.frame():` or between `begin_frame()` and `end_frame()`. While
suspended, other tasks on the same thread share this thread's frame arena: their allocations and
their `end_frame()` calls interleave with this frame.
What to do: open and end the frame between awaits (keep frames synchronous), use `async with
alloc.task_frame():` (the task's own frame, which may stay open across awaits), or use
task-scoped pool memory in coroutines.""")

# --- FA8xx architecture / tags -----------------------------------------------------------------
_add("FA801", "error", "tag not declared in the configuration", """
A tag name used with `alloc.tag(...)`, `alloc.with_tag(...)`, `alloc.set_tag_budget(...)` or
`alloc.tag_id(...)` is not in the `tags` list of `[tool.framealloc.lint]` (entries may be globs
such as `"physics::*"`; nested `with alloc.tag(...)` blocks are checked as `outer::inner` paths and
by their own name). Undeclared tags are usually typos, and their memory is attributed to a tag no
budget or dashboard knows about.
What to do: fix the name, or add it to `tags = [...]` in `[tool.framealloc.lint]`.
The check is active once `tags` is set.""")
_add("FA802", "error", "tag used in a module where it is not allowed", """
`[tool.framealloc.lint.tag-modules]` restricts a tag to modules matching a list of globs (matched
against the dotted module name and the path relative to the configuration file), and this module
matches none of them. Tags stand for subsystems; using one elsewhere attributes memory to the
wrong owner.
What to do: use the tag of the subsystem this module belongs to, or add the module to the tag's
allow-list.""")
