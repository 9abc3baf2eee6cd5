"""Per-heap accounting of device memory and the budgets that limit it (internal).

:class:`BudgetKeeper` counts the device memory the allocator holds on each heap and decides,
before the allocator asks the device for more, whether a hard limit stops it (FA406) and
whether a soft limit was crossed (FA407). Limits come from :class:`~framealloc.gpu.GpuBudget`
(global and per heap) and from the device: VK_EXT_memory_budget where the backend reports it,
otherwise ``device_budget_fraction`` of each heap.

>>> from framealloc.gpu import GpuConfig, GpuBudget, NullBackend
>>> keeper = BudgetKeeper(NullBackend(), GpuConfig(budget=GpuBudget(hard=1 << 20)))
>>> keeper.room(0)
1048576
>>> keeper.reserve(0, 1 << 19); keeper.room(0)
524288
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import BudgetEvent, GpuConfig
from ..errors import warn
from .errors import GpuBudgetExceededError, GpuBudgetWarning

if TYPE_CHECKING:
    from .protocol import GpuBackend

__all__ = ["BudgetKeeper", "HeapBudget"]


@dataclass(frozen=True)
class HeapBudget:
    """Usage and budget of one memory heap (bytes).

    ``block_bytes``: device memory this allocator holds on the heap; ``allocation_bytes``:
    bytes of its live Persistent/Transient/dedicated allocations there (frame memory is in
    ``block_bytes`` only); ``usage`` / ``budget``: the driver's numbers with
    VK_EXT_memory_budget (whole process), otherwise ``block_bytes`` and
    ``device_budget_fraction`` of ``size``.
    """

    heap_index: int
    size: int
    device_local: bool
    block_bytes: int
    allocation_bytes: int
    usage: int
    budget: int
    soft_limit: int | None
    hard_limit: int | None
    from_driver: bool


class BudgetKeeper:
    """Reserved/allocated bytes per heap and the hard/soft limit checks."""

    def __init__(self, backend: GpuBackend, config: GpuConfig) -> None:
        self._backend = backend
        self._heaps = backend.info.memory.heaps
        self._budget = config.budget
        self._fraction = config.device_budget_fraction
        self.reserved = [0] * len(self._heaps)     # device memory held, per heap
        # live pooled/dedicated allocation bytes per heap (the allocator lends its totals array)
        self.allocated: Any = [0] * len(self._heaps)
        self.denials = 0
        self._soft_over: set[str] = set()

    @property
    def reserved_total(self) -> int:
        return sum(self.reserved)

    def device_budget(self, heap: int) -> tuple[int, int]:
        """``(usage, budget)`` of a heap from the driver, else from our own accounting."""
        budgets = self._backend.heap_budgets()
        if budgets is not None and heap < len(budgets):
            return budgets[heap]
        return self.reserved[heap], int(self._heaps[heap].size * self._fraction)

    def limits(self, heap: int) -> list[tuple[str, int]]:
        """``(description, bytes still available)`` for every hard limit on ``heap``."""
        b = self._budget
        out = []
        if b.hard is not None:
            out.append((f"GpuBudget.hard = {b.hard}", b.hard - self.reserved_total))
        if heap in b.heap_hard:
            out.append((f"GpuBudget.heap_hard[{heap}] = {b.heap_hard[heap]}",
                        b.heap_hard[heap] - self.reserved[heap]))
        if b.respect_device_budget:
            usage, budget = self.device_budget(heap)
            out.append((f"device budget of heap {heap} = {budget}", budget - usage))
        return out

    def room(self, heap: int) -> int:
        """Bytes of device memory that may still be reserved on ``heap``."""
        limits = self.limits(heap)
        return min(r for _, r in limits) if limits else 1 << 62

    def check(self, heap: int, size: int) -> None:
        """Raise :class:`GpuBudgetExceededError` (FA406) when ``size`` more bytes do not fit."""
        for what, room in self.limits(heap):
            if size > room:
                self.denials += 1
                raise GpuBudgetExceededError(
                    f"{size} more bytes of device memory on heap {heap} would pass {what} "
                    f"({max(room, 0)} bytes left); free memory or raise the budget",
                    code="FA406")

    def reserve(self, heap: int, size: int) -> None:
        """Count new device memory; warn (FA407) when a soft limit is crossed."""
        self.reserved[heap] += size
        b = self._budget
        checks = []
        if b.soft is not None:
            checks.append(("total", self.reserved_total, b.soft))
        if heap in b.heap_soft:
            checks.append((f"heap {heap}", self.reserved[heap], b.heap_soft[heap]))
        for scope, usage, limit in checks:
            if usage > limit and scope not in self._soft_over:
                self._soft_over.add(scope)
                if b.on_soft is not None:
                    b.on_soft(BudgetEvent(scope, usage, limit))
                warn(GpuBudgetWarning(
                    f"GPU device memory ({scope}) is {usage} bytes, above the soft budget of "
                    f"{limit}; free memory or raise GpuBudget.soft", code="FA407"), stacklevel=5)

    def release(self, heap: int, size: int) -> None:
        """Count device memory given back; re-arm soft warnings once usage is below again."""
        self.reserved[heap] -= size
        b = self._budget
        if "total" in self._soft_over and b.soft is not None and self.reserved_total <= b.soft:
            self._soft_over.discard("total")
        scope = f"heap {heap}"
        if scope in self._soft_over and self.reserved[heap] <= b.heap_soft.get(heap, 0):
            self._soft_over.discard(scope)

    def heap_budgets(self) -> list[HeapBudget]:
        """Per-heap usage and budget; one driver query at most (cheap enough per frame)."""
        driver = self._backend.heap_budgets()
        b = self._budget
        out = []
        for i, heap in enumerate(self._heaps):
            if driver is not None and i < len(driver):
                usage, budget = driver[i]
                from_driver = True
            else:
                usage, budget = self.reserved[i], int(heap.size * self._fraction)
                from_driver = False
            out.append(HeapBudget(i, heap.size, heap.device_local, self.reserved[i],
                                  int(self.allocated[i]), usage, budget, b.heap_soft.get(i),
                                  b.heap_hard.get(i), from_driver))
        return out
