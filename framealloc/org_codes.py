"""Diagnostic codes of the organisation features: budgets, tags, phases, scratch pools, retention
(FA150–FA169) and thread coordination (FA170–FA179)."""
from __future__ import annotations

from .errors import CodeInfo

CODES: dict[str, CodeInfo] = {
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
    "FA175": CodeInfo("FA175", "bad barrier size", """
`FrameBarrier(parties)` needs an int >= 1: the number of threads that meet every frame.""".strip(),
                      "BarrierError"),
}
