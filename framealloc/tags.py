"""Tags and budgets (SmartAlloc methods): attribution of every allocation, enforced limits.

Work in progress (issue 4): the hooks below are the interface the other features use.
"""
from __future__ import annotations

from ._hooks import FrameHooks

__all__ = ["OrgMixin"]


class OrgMixin(FrameHooks):
    """SmartAlloc methods for tags and budgets."""

    def _org_charge(self, kind: int, nbytes: int, try_: bool = False) -> int | None:
        """Attribute ``nbytes`` of ``kind`` (``org_state.KIND_*``) to the calling thread's tag and
        charge the budgets that apply. Returns the tag id to pass to :meth:`_org_release`, or
        None when ``try_`` and a hard budget refuses (BudgetExceededError FA154 otherwise)."""
        return 0

    def _org_release(self, kind: int, tag: int, nbytes: int) -> None:
        """Give back what :meth:`_org_charge` took (any thread may call it)."""

    @property
    def current_tag(self) -> str:
        """Path of the calling thread's current tag ("" when untagged)."""
        return ""

    def _thread_counters(self, ta=None) -> tuple[int, int]:
        """(bytes, allocations) the calling thread has allocated so far, every kind."""
        ta = ta if ta is not None else self._arena()
        rows = self._rows[ta.slot]
        pos = (rows["used_before"] + rows["cursor"]) * (rows["frame_open"] != 0)
        return (int(rows["allocated_total"].sum() + pos.sum()),
                int(rows["count_total"].sum() + (rows["count"] * (rows["frame_open"] != 0)).sum()))
