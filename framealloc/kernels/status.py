"""The one status vocabulary of framealloc: a status IS its FA code's number (numba-free, imports
nothing), and :class:`CodeInfo`, the record that describes one code (the table of entries is in
:mod:`framealloc.errors`; the linter's codes use the same record without importing the runtime).

Every kernel returns a :class:`Status` value instead of raising: ``OK`` (0), an FA code's number
(``FRAME_EXHAUSTED`` is 8, ``POOL_EXHAUSTED`` is 105, ``BUDGET_EXCEEDED`` is 154), or one of the
negative results that are not FA codes (``HEAP``: a success served from the heap fallback;
``INTERNAL``: a kernel found state it cannot explain, raised as FA000). Pool acquire kernels
return a handle (``>= 0``) or ``-status``, which works because every failure status is positive.

The exception, message and explanation of each code are one entry of the table in
:mod:`framealloc.errors`; the Python raise (``raise error(status, ...)``), the @njit raise
(:func:`framealloc.kernels.njit_api.status_raiser`) and ``framealloc.explain()`` all read it.

@njit code reads the statuses as plain module attributes (``from . import status as ST``, then
``ST.BUDGET_EXCEEDED``): every member is also a module-level ``int`` here. numba folds those to
constants; an IntEnum member would instead be typed as an enum and boxed back into a ``Status``
object (a Python call) each time a kernel returned one to Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, unique

__all__ = ["Status", "CodeInfo"]


@unique
class Status(IntEnum):
    """Every runtime status; the value of each failure is its FA code's number."""

    OK = 0
    # -- not FA codes (negative) ---------------------------------------------------------------
    HEAP = -1                  # success: served from a heap fallback the row owns until end_frame
    INTERNAL = -2              # a kernel met state it cannot explain (raised as FA000)
    # -- FA0xx frame arenas --------------------------------------------------------------------
    NO_FRAME = 1
    BEGIN_TWICE = 2
    END_NO_BEGIN = 3
    BAD_SIZE = 4               # a negative size or shape entry
    SIZE_OVERFLOW = 5
    BAD_DTYPE = 6
    BAD_ALIGN = 7
    FRAME_EXHAUSTED = 8
    FOREIGN_CHECKPOINT = 9
    STALE_CHECKPOINT = 10
    WRONG_THREAD = 11
    TOO_MANY_THREADS = 12
    BAD_CONFIG = 13
    BAD_SHAPE = 14
    CLOSED = 15
    PYTHON_ONLY = 16
    NOT_CONSTANT = 17
    NOT_CALLABLE = 18
    IN_GENERATOR = 19
    BAD_ARRAY_ARG = 20         # arrays a creation call cannot combine: shapes, axis, indices
    VIEW_ESCAPED = 21          # debug mode: frame views still referenced at end_frame (a warning)
    FOREIGN_THREAD = 22        # debug mode: a frame collection or view used from another thread
    SCOPE_ORDER = 23           # a scope ended while a scope begun inside it is still open
    # -- FA1xx pools, heap, typed pools, groups, handles, streaming -----------------------------
    DOUBLE_FREE = 101          # a slot released while it is not live
    FOREIGN_FREE = 102
    STALE_HANDLE = 103         # a generation that does not match, or a lookup of a free slot
    SLOT_RANGE = 104
    POOL_EXHAUSTED = 105       # full under policy "error", slot limit, or out of memory
    BAD_POOL_SIZE = 106
    VIEW_TOO_BIG = 107
    USE_AFTER_FREE = 108
    POOL_CLOSED = 109
    BAD_POOL_ARG = 110
    TOO_BIG_FOR_CLASSES = 111
    UNKNOWN_GROUP = 112
    GROUP_FREED = 113
    STALE_RELOCATABLE = 114
    NOT_PINNED = 115
    PINNED = 116
    STREAMING_BUDGET = 117
    ASSET_NOT_READY = 118
    UNKNOWN_ASSET = 119
    TOO_MUCH_DATA = 120
    # -- FA13x frame collections and layouts ---------------------------------------------------
    BAD_CAPACITY = 130
    VEC_FULL = 131
    VEC_EMPTY = 132
    VEC_INDEX = 133
    MAP_FULL = 134
    KEY_MISSING = 135
    BAD_COLLECTION_DTYPE = 136
    BAD_KEY = 137
    BAD_LAYOUT = 138
    BAD_VALUE = 139
    # -- FA15x-17x tags, budgets, phases, scratch, retention, thread coordination -------------
    BAD_TAG_NAME = 150
    TOO_MANY_TAGS = 151
    TAG_UNBALANCED = 152
    TAG_UNKNOWN = 153
    BUDGET_EXCEEDED = 154
    SOFT_BUDGET = 155
    BAD_BUDGET = 156
    TAG_LOG_FULL = 157
    BAD_PHASE = 158
    PHASE_OPEN_AT_END = 159
    BAD_SCRATCH = 160          # a bad scratch pool name, capacity or id
    SCRATCH_FULL = 161
    TOO_MANY_SCRATCH = 162
    BAD_RETENTION = 163
    PROMOTE_TOO_BIG = 164
    PROMOTE_NO_SCRATCH = 165
    PROMOTE_SCRATCH_FULL = 166
    BARRIER_TIMEOUT = 170
    BARRIER_BROKEN = 171
    SIGNALLED_TWICE = 172
    RECEIVED_TWICE = 173
    TRANSFER_DROPPED = 174
    BAD_BARRIER = 175
    # -- FA18x integrations (asyncio, pymunk, esper, Dask: framealloc.integrations) ------------
    INTEGRATION_ARG = 180      # an integration got an object of the wrong kind or a bad value
    MISSING_EXTRA = 181        # the optional package of an integration is not installed
    NOT_IN_TASK = 182          # task_frame() entered outside a running asyncio task
    TASK_FRAME_OPEN = 183      # a second task_frame of one allocator in the same task
    NO_WORKER_ALLOC = 184      # fa.dask.get_alloc() where no worker plugin made an allocator
    # -- FA19x transparent frames (framealloc.transparent) ---------------------------------------
    TRANSPARENT_REFUSED = 190  # install_transparent() refused: numba's internals are not known
    TRANSPARENT_ARG = 191      # a bad argument or use of fa.transparent()
    TRANSPARENT_THREADS = 192  # more threads in transparent scopes than the table holds
    # -- FA4xx GPU memory ----------------------------------------------------------------------
    GPU_BAD_SIZE = 401
    GPU_BAD_ALIGN = 402
    GPU_BAD_USAGE = 403
    GPU_NO_MEMORY_TYPE = 404
    GPU_OUT_OF_MEMORY = 405
    GPU_BUDGET_EXCEEDED = 406
    GPU_SOFT_BUDGET = 407
    GPU_NOT_MAPPABLE = 408
    GPU_STALE = 409
    GPU_DOUBLE_FREE = 410
    GPU_FRAME_STATE = 411
    GPU_TRANSFER = 412
    GPU_CALL_FAILED = 413
    GPU_UNAVAILABLE = 414
    GPU_BAD_VIEW = 415
    GPU_TIMEOUT = 416
    GPU_BAD_CONFIG = 417
    UNIFIED_BUDGET_EXCEEDED = 418
    UNIFIED_SOFT_BUDGET = 419
    # -- FA5xx runtime diagnostics: snapshots, reports, traces ---------------------------------
    BAD_SNAPSHOT = 500         # a snapshot file that is not valid JSON of the schema
    SNAPSHOT_VERSION = 501     # a snapshot of a format version this framealloc does not read
    NEEDS_PACKAGE = 502        # an optional package (matplotlib) is missing
    TRACE_STATE = 503          # alloc.trace() misused: nested, or the allocator closed
    BAD_DIAG_ARG = 504         # a bad argument to history(), trace() or plot_history()
    # -- FA51x behaviour filter (warnings: framealloc.behaviour) ---------------------------------
    BEHAVIOUR_PROMOTION = 510  # frame allocations promoted every frame
    BEHAVIOUR_SHORT_BOX = 511  # pool boxes freed in the frame that made them, every frame
    BEHAVIOUR_GROWTH = 512     # frame peak rising frame after frame
    BEHAVIOUR_HEAP_FALLBACK = 513  # 'heap' policy fallbacks every frame
    BEHAVIOUR_SOFT_BUDGET = 514    # a soft budget passed every frame
    BEHAVIOUR_SCRATCH_NO_RESET = 515  # a scratch pool allocated from but never reset
    BEHAVIOUR_TYPED_GROWTH = 516   # a typed pool's live records growing every frame

    @property
    def code(self) -> str:
        """The ``FAnnn`` code of this status (``"FA000"`` for the negative ones)."""
        return f"FA{max(int(self), 0):03d}"


# The members as plain ints (``status.BUDGET_EXCEEDED == 154``), for @njit code (module docstring).
globals().update({_s.name: int(_s) for _s in Status})


@dataclass(frozen=True)
class CodeInfo:
    """One diagnostic code: a short title and the long explanation (what happened, what to do).

    Runtime codes also carry what a raise needs: the ``message`` raised (a ``str.format``
    template over the fields in ``defaults``), ``todo`` (what to do, appended after ``"; "``),
    other phrasings of the same code (``cases``: name -> (message, todo)), and the exception
    class (``exception`` is its name under ``framealloc``).
    """

    code: str
    title: str
    explanation: str
    exception: str = ""
    message: str = ""
    todo: str = ""
    defaults: tuple = ()
    cases: tuple = ()
    cls: type | None = field(default=None, compare=False, repr=False)
