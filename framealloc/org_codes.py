"""Diagnostic codes of the organisation features: budgets, tags, phases, scratch pools, retention
(FA150–FA169) and thread coordination (FA170–FA179)."""
from __future__ import annotations

from .errors import CodeInfo, FrameAllocError

__all__ = ["TagError", "BudgetError", "BudgetExceededError", "BudgetWarning", "CODES"]


class TagError(FrameAllocError, ValueError):
    """A bad tag name or id, too many tags, or unbalanced tag pushes (FA150-FA153, FA157)."""

    default_code = "FA150"


class BudgetError(FrameAllocError, ValueError):
    """Invalid budget arguments (FA156)."""

    default_code = "FA156"


class BudgetExceededError(FrameAllocError, MemoryError):
    """A hard budget refused an allocation (FA154); nothing was allocated or changed."""

    default_code = "FA154"


class BudgetWarning(UserWarning):
    """A soft budget was passed (FA155): issued once per frame per budget, after the callback."""

    code = "FA155"


CODES: dict[str, CodeInfo] = {
    "FA150": CodeInfo("FA150", "bad tag name", """
A tag name must be a non-empty str of printable characters without "::" at either end, and a
path at most 16 levels deep; nesting
`alloc.tag("a")` inside `alloc.tag("b")` gives the path "b::a", and a path can also be spelled
in one go (`alloc.tag("physics::broadphase")`).""".strip(), "TagError"),
    "FA151": CodeInfo("FA151", "too many tags", """
More distinct tag paths than `AllocConfig.max_tags` (the root counts as one) were registered
on this allocator. Reuse tag names (a tag is a category, not an object id) or raise
`max_tags`.""".strip(), "TagError"),
    "FA152": CodeInfo("FA152", "unbalanced tag", """
`pop_tag()` without a matching `push_tag()` on this thread (or inside @njit on this worker), a
tag stack deeper than 16 inside @njit, or a Python tag block closed while a tag pushed inside
@njit was still open. Pair every push with a pop; prefer `with alloc.tag(name):` in Python.""".strip(),
                      "TagError"),
    "FA153": CodeInfo("FA153", "unknown tag id", """
An integer tag id that this allocator never returned from `alloc.tag_id(name)` was pushed.
Get ids once in Python with `alloc.tag_id("physics")` and pass them to @njit code.""".strip(),
                      "TagError"),
    "FA154": CodeInfo("FA154", "hard budget exceeded", """
The allocation would take a budget's live bytes past its hard limit (the message names the
budget: total, a kind, a tag or a thread's frames). Nothing was allocated and no state changed.
Free memory (end the frame, release pool slots, reset scratch pools), raise the limit with
`set_budget`/`set_tag_budget`/`set_thread_frame_budget`, or use a `try_` form, which returns
None instead of raising.""".strip(), "BudgetExceededError"),
    "FA155": CodeInfo("FA155", "soft budget passed", """
An allocation took a budget's live bytes past its soft limit. The allocation succeeded; the
budget's callback ran and this warning is issued once per frame per budget. Look at
`alloc.stats().budgets` and `alloc.stats().tags` to see where the memory goes.""".strip(),
                      "BudgetWarning"),
    "FA156": CodeInfo("FA156", "bad budget", """
Budget limits must be ints >= 0 (or None for no limit) with soft <= hard, and the scope must
exist: a kind among total/frame/pool/heap/scratch, or a tag name.""".strip(), "BudgetError"),
    "FA157": CodeInfo("FA157", "too many tag switches under a checkpoint", """
While a frame checkpoint is live, every tag switch is logged so that a rollback can give each
tag its bytes back; the log holds 128 switches per thread. Commit or roll back the checkpoint
(or take it inside the tag) before switching tags that often.""".strip(), "TagError"),
    "FA170": CodeInfo("FA170", "frame barrier timeout", """
A thread waited longer than its timeout in `FrameBarrier.wait_all()`: not every party signalled
the frame. The barrier is now broken so that no other thread hangs; find the thread that did not
reach the barrier (an exception, an early exit), then call `barrier.reset()` to reuse it.""".strip(),
                      "BarrierTimeoutError"),
    "FA171": CodeInfo("FA171", "frame barrier broken", """
The FrameBarrier was broken by another thread's timeout or by `abort()`, so waiting on it would
never finish. Call `barrier.reset()` once every party has stopped waiting.""".strip(),
                      "BrokenFrameBarrierError"),
    "FA172": CodeInfo("FA172", "frame signalled twice", """
A thread called `signal_frame_complete()` twice for the same frame. Call `wait_all()` (or use
`arrive_and_wait()`) before signalling the next frame.""".strip(), "BarrierError"),
    "FA173": CodeInfo("FA173", "transfer received twice", """
`TransferHandle.receive()` was called a second time. A transfer moves data to exactly one
receiver; make one handle per receiver with `alloc.frame_box_for_transfer(arr)`.""".strip(),
                      "TransferError"),
    "FA174": CodeInfo("FA174", "transfer dropped", """
`TransferHandle.receive()` was called after `drop()` released the data. Receive before dropping,
or do not drop a handle another thread still expects.""".strip(), "TransferError"),
    "FA175": CodeInfo("FA175", "bad barrier size or timeout", """
`FrameBarrier(parties)` needs an int >= 1: the number of threads that meet every frame. A
`timeout` (of the barrier or of a wait) is None (wait for ever) or a number of seconds >= 0;
a refused wait counts no signal.""".strip(),
                      "BarrierError"),
}
