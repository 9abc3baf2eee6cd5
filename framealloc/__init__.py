"""framealloc: intent-aware frame/pool/heap allocation for NumPy and Numba."""
from __future__ import annotations

from .errors import (
    AlignmentError,
    AllocSizeError,
    ArenaExhaustedError,
    BudgetError,
    BudgetExceededError,
    BehaviourWarning,
    BudgetWarning,
    CheckpointError,
    CollectionCapacityError,
    CollectionDtypeError,
    CollectionEmptyError,
    CollectionFullError,
    CollectionIndexError,
    CollectionKeyError,
    CollectionValueError,
    ConfigError,
    DoubleFreeError,
    ForeignFreeError,
    FrameAllocError,
    FrameAllocWarning,
    FrameViewEscapedWarning,
    DiagnosticsError,
    SnapshotError,
    FrameMapKeyError,
    FrameStateError,
    GroupError,
    HandleError,
    IntegrationError,
    LayoutError,
    MissingExtraError,
    NjitUsageError,
    NotCallableError,
    PhaseError,
    PhaseWarning,
    PoolError,
    PoolExhaustedError,
    PoolIndexError,
    RetentionError,
    ScratchError,
    ScratchFullError,
    StaleHandleError,
    StreamingBudgetError,
    StreamingError,
    TagError,
    TaskFrameError,
    UnsupportedDtypeError,
    UseAfterFreeError,
    WrongThreadError,
    explain,
)

__version__ = "0.1.0"

from .alloc import FAILED, CheckpointGuard, SmartAlloc, SpeculativeResult
from .checkpoints import FrameCheckpoint, FrameScope
from .collections import FrameLayout, FrameMap, FrameVec
from .behaviour import BehaviourEvent
from .config import AllocConfig, BehaviourFilter, GiB, KiB, MiB
from .coordination import (
    BarrierError,
    BarrierTimeoutError,
    BrokenFrameBarrierError,
    FrameBarrier,
    TransferError,
    TransferHandle,
)
from .groups import GroupInfo
from .handles import HandleHeap
from .history import HISTORY_RECORD, FrameHistory
from .plotting import plot_history
from .snapshot import Snapshot, SnapshotDiff, merge_snapshots
from .snapshot import schema as snapshot_schema
from .phases import PhaseBlock, PhasesStats, PhaseStats, PhaseTotals
from .pool import PoolBox, SizeClassInfo, SizeClassPools
from .retention import (
    FailureReasons,
    Importance,
    PromotedAllocation,
    PromotionFailure,
    PromotionResult,
    RetentionCounts,
    RetentionPolicy,
    RetentionSummary,
)
from .scratch import ScratchPool, ScratchStats
from .stats import (
    AllocStats,
    FrameStats,
    GroupStats,
    HandleStats,
    HeapStats,
    PoolStats,
    StreamingStats,
    ThreadFrameStats,
    TypedPoolStats,
)
from .streaming import StreamingAllocator
from .typed_pool import TypedPool, TypedPoolInfo

__all__ = [
    "SmartAlloc", "AllocConfig", "KiB", "MiB", "GiB", "FrameCheckpoint", "FrameScope",
    "CheckpointGuard", "SpeculativeResult", "FAILED", "AllocStats", "FrameStats",
    "ThreadFrameStats", "explain",
    "FrameAllocError", "FrameStateError", "AllocSizeError", "UnsupportedDtypeError",
    "AlignmentError", "ArenaExhaustedError", "CheckpointError", "WrongThreadError", "ConfigError",
    "NjitUsageError", "NotCallableError",
    "FrameBarrier", "BarrierError", "BarrierTimeoutError", "BrokenFrameBarrierError",
    "TransferHandle", "TransferError",
    "TypedPool", "TypedPoolInfo", "SizeClassPools", "SizeClassInfo", "PoolBox", "HandleHeap",
    "StreamingAllocator", "GroupInfo", "PoolError", "DoubleFreeError", "ForeignFreeError",
    "StaleHandleError", "PoolIndexError", "PoolExhaustedError", "UseAfterFreeError", "GroupError",
    "HandleError", "StreamingError", "StreamingBudgetError", "PoolStats", "TypedPoolStats",
    "HeapStats", "GroupStats", "HandleStats", "StreamingStats",
    "FrameVec", "FrameMap", "FrameLayout", "CollectionCapacityError", "CollectionFullError",
    "CollectionEmptyError", "CollectionIndexError", "FrameMapKeyError", "CollectionDtypeError",
    "CollectionKeyError", "CollectionValueError", "LayoutError",
    "TagError", "BudgetError", "BudgetExceededError", "BudgetWarning",
    "RetentionPolicy", "Importance", "PromotionResult", "PromotedAllocation", "PromotionFailure",
    "RetentionSummary", "RetentionCounts", "FailureReasons", "RetentionError",
    "PhaseError", "PhaseWarning", "PhaseStats", "PhaseTotals", "PhasesStats", "PhaseBlock",
    "ScratchPool", "ScratchStats", "ScratchError", "ScratchFullError",
    "FrameHistory", "HISTORY_RECORD", "FrameAllocWarning", "FrameViewEscapedWarning",
    "Snapshot", "SnapshotDiff",
    "snapshot_schema", "SnapshotError", "DiagnosticsError", "plot_history", "merge_snapshots",
    "BehaviourFilter", "BehaviourWarning", "BehaviourEvent",
    "IntegrationError", "MissingExtraError", "TaskFrameError",
]
from .transparent import TransparentWarning, install_transparent, transparent  # noqa: E402
__all__ += ["transparent", "install_transparent", "TransparentWarning"]
