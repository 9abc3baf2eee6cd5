"""Diagnostic codes of frame retention and promotion (FA163–FA166).

FA163 is raised (a bad argument to ``frame_retained`` / ``frame_with_importance``); FA164–FA166
are never raised: they name the reason of a failed promotion in
``PromotionResult.failed[i].code`` (``end_frame`` reports failures, it does not raise them).
Budget refusals keep their own code (FA154) and out-of-memory pools theirs (FA105).

>>> import framealloc as fa
>>> print(fa.explain("FA165").splitlines()[0])
FA165 scratch pool missing for promotion
"""
from __future__ import annotations

from .errors import CodeInfo, FrameAllocError

__all__ = ["RetentionError", "CODES"]


class RetentionError(FrameAllocError, ValueError):
    """A bad retention policy, importance, scratch-pool name or argument (FA163); nothing was
    allocated or remembered."""

    default_code = "FA163"


CODES: dict[str, CodeInfo] = {
    "FA163": CodeInfo("FA163", "bad retention argument", """
`frame_retained(value_or_dtype, policy, shape=())` needs a RetentionPolicy
(`RetentionPolicy.Discard`, `.PromoteToPool`, `.PromoteToHeap` or
`RetentionPolicy.PromoteToScratch("name")`), and `frame_with_importance` an Importance
(`Importance.Ephemeral`, `.Reusable`, `.Persistent` or `Importance.Scratch("name")`). A scratch
pool name is a non-empty str. `shape` is only for a dtype: to retain a copy of a value, pass the
value alone (its shape is its own). Nothing was allocated or remembered.""".strip(),
                      "RetentionError"),
    "FA164": CodeInfo("FA164", "retained allocation too large to promote", """
A PromoteToPool allocation is larger than the pool's largest size class
(`alloc.pools.size_classes[-1]`, 4 KiB by default); it is not moved to the heap behind your back.
Or the heap could not hold a PromoteToHeap copy (out of memory). Use PromoteToHeap (or
`Importance.Persistent`) for large data, add a larger class to
`AllocConfig.pool_size_classes`, or retain less. The frame ended normally; the data was not
promoted (see `result.failed`).""".strip(), ""),
    "FA165": CodeInfo("FA165", "scratch pool missing for promotion", """
A PromoteToScratch(name) allocation reached the end of its frame but this allocator has no
scratch pool of that name. Create it before the frame ends (`alloc.scratch_pool(name)`); names
are case-sensitive. The frame ended normally; the data was not promoted (see
`result.failed`).""".strip(), ""),
    "FA166": CodeInfo("FA166", "scratch pool full for promotion", """
A PromoteToScratch(name) allocation did not fit in the remaining space of that scratch pool.
Give the pool more room, `reset()` it when its contents are no longer needed, or promote to the
heap instead. The frame ended normally; the data was not promoted (see
`result.failed`).""".strip(), ""),
}
