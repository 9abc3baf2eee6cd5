"""Thread coordination: a frame barrier that re-arms itself every frame."""
from __future__ import annotations

import threading
import time

import numpy as np

from .errors import FrameAllocError

__all__ = ["FrameBarrier", "BarrierError", "BarrierTimeoutError", "BrokenFrameBarrierError",
           "TransferHandle", "TransferError"]


class BarrierError(FrameAllocError, RuntimeError):
    """Misuse of a :class:`FrameBarrier` (FA171 broken, FA172 double signal, FA175 bad parties
    or timeout)."""

    default_code = "FA171"


class BarrierTimeoutError(BarrierError, TimeoutError):
    """``wait_all`` timed out (FA170); the barrier is broken for every waiter until ``reset()``."""

    default_code = "FA170"


class BrokenFrameBarrierError(BarrierError):
    """The barrier was broken by a timeout or ``abort()`` (FA171)."""

    default_code = "FA171"


class FrameBarrier:
    """``parties`` threads meet at the end of every frame; the barrier re-arms itself each frame.

    Each thread calls :meth:`signal_frame_complete` when its frame's work is done, then
    :meth:`wait_all`, which returns once all ``parties`` threads signalled that frame (or use
    :meth:`arrive_and_wait` for both). Frame ``k+1`` starts counting as soon as frame ``k`` is
    complete, so the same barrier serves every frame. A timeout breaks the barrier for everyone
    (each waiter gets an error instead of hanging) until :meth:`reset`.

    Example
    -------
    >>> import threading, framealloc as fa
    >>> barrier = fa.FrameBarrier(2)
    >>> def worker():
    ...     for _ in range(3):
    ...         _ = barrier.arrive_and_wait(timeout=10)
    >>> t = threading.Thread(target=worker); t.start()
    >>> for _ in range(3):
    ...     _ = barrier.arrive_and_wait(timeout=10)
    >>> t.join(); barrier.frame
    3
    """

    def __init__(self, parties: int, *, timeout: float | None = None):
        if isinstance(parties, bool) or not isinstance(parties, int) or parties < 1:
            raise BarrierError(f"parties must be an int >= 1, got {parties!r}", code="FA175")
        self.parties = parties
        self.timeout = _check_timeout(timeout)
        self._cond = threading.Condition(threading.Lock())
        self._frame = 0          # frames completed
        self._arrived = 0        # signals counted for frame self._frame
        self._broken = False
        self._signalled = threading.local()

    @property
    def frame(self) -> int:
        """Frames completed so far (all parties signalled)."""
        return self._frame

    @property
    def broken(self) -> bool:
        """Whether a timeout or :meth:`abort` broke the barrier (cleared by :meth:`reset`)."""
        return self._broken

    @property
    def n_waiting(self) -> int:
        """Signals counted for the frame in progress."""
        return self._arrived

    def signal_frame_complete(self) -> int:
        """Count the calling thread as done with the current frame; returns that frame's index.

        Raises FA172 if this thread already signalled the frame in progress, FA171 if broken.
        """
        with self._cond:
            if self._broken:
                raise BrokenFrameBarrierError("the frame barrier is broken (a wait timed out or "
                                              "abort() was called); call reset()", code="FA171")
            if getattr(self._signalled, "frame", -1) == self._frame:
                raise BarrierError(f"this thread already signalled frame {self._frame}; call "
                                   "wait_all() before signalling the next frame", code="FA172")
            frame = self._frame
            self._signalled.frame = frame
            self._arrived += 1
            if self._arrived == self.parties:
                self._arrived = 0
                self._frame += 1
                self._cond.notify_all()
            return frame

    def wait_all(self, timeout: float | None = None) -> int:
        """Block until every party signalled the frame this thread signalled (or, if it did not
        signal, the frame in progress); returns the number of completed frames.

        On timeout the barrier breaks: this call raises :class:`BarrierTimeoutError` (FA170) and
        every other waiter :class:`BrokenFrameBarrierError` (FA171).
        """
        timeout = self.timeout if timeout is None else _check_timeout(timeout)
        with self._cond:
            target = getattr(self._signalled, "frame", self._frame)
            if target < self._frame - 1 or target > self._frame:
                target = self._frame
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._frame <= target:
                if self._broken:
                    raise BrokenFrameBarrierError("the frame barrier was broken while waiting; "
                                                  "call reset()", code="FA171")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._broken = True
                    self._cond.notify_all()
                    raise BarrierTimeoutError(
                        f"frame {target}: only {self._arrived} of {self.parties} parties "
                        f"signalled within {timeout} s; the barrier is now broken (reset() to "
                        "reuse it)", code="FA170")
                self._cond.wait(remaining)
            return self._frame

    def arrive_and_wait(self, timeout: float | None = None) -> int:
        """:meth:`signal_frame_complete` then :meth:`wait_all`."""
        _check_timeout(timeout)           # before the signal counts
        self.signal_frame_complete()
        return self.wait_all(timeout)

    def abort(self) -> None:
        """Break the barrier: every waiter raises FA171 instead of waiting."""
        with self._cond:
            self._broken = True
            self._cond.notify_all()

    def reset(self) -> None:
        """Repair a broken barrier; the frame in progress starts counting again from zero."""
        with self._cond:
            self._broken = False
            self._arrived = 0
            self._frame += 1          # signals of the aborted frame no longer count
            self._cond.notify_all()


def _check_timeout(timeout):
    """None or a number of seconds >= 0 (FA175 otherwise)."""
    if timeout is None:
        return None
    number = isinstance(timeout, (int, float, np.integer, np.floating))
    if isinstance(timeout, bool) or not number or not timeout >= 0:
        raise BarrierError(f"timeout must be None or a number of seconds >= 0, got {timeout!r}",
                           code="FA175")
    return timeout


class TransferError(FrameAllocError, RuntimeError):
    """A :class:`TransferHandle` was received twice (FA173) or after it was dropped (FA174)."""

    default_code = "FA173"


class TransferHandle:
    """Frame data handed to another thread, received exactly once.

    Made by :meth:`SmartAlloc.frame_box_for_transfer`, which copies the data out of the sending
    thread's frame into a tracked heap array (it shows in ``stats().heap`` until released), so it
    stays valid after the sender's ``end_frame`` and can cross threads, queues and executors.
    :meth:`receive` returns that array once; a second ``receive`` raises FA173. :meth:`drop`
    releases an unwanted transfer; ``receive`` afterwards raises FA174.

    Example
    -------
    >>> import queue, threading, numpy as np, framealloc as fa
    >>> alloc, q, out = fa.SmartAlloc(), queue.Queue(), []
    >>> with alloc.frame():
    ...     contacts = alloc.frame_array(4, np.int32); contacts[:] = 7
    ...     q.put(alloc.frame_box_for_transfer(contacts))
    >>> t = threading.Thread(target=lambda: out.append(q.get().receive())); t.start(); t.join()
    >>> out[0].tolist()
    [7, 7, 7, 7]
    """

    __slots__ = ("_data", "_state", "_lock", "source_thread", "nbytes")
    _data: np.ndarray | None       # None once received or dropped

    _PENDING, _RECEIVED, _DROPPED = 0, 1, 2

    def __init__(self, data: np.ndarray, source_thread: int):
        self._data = data
        self._state = self._PENDING
        self._lock = threading.Lock()
        self.source_thread = source_thread
        self.nbytes = int(data.nbytes)

    @property
    def received(self) -> bool:
        """Whether :meth:`receive` has been called."""
        return self._state == self._RECEIVED

    @property
    def dropped(self) -> bool:
        """Whether :meth:`drop` released the data unreceived."""
        return self._state == self._DROPPED

    def receive(self) -> np.ndarray:
        """The transferred array (an owned, tracked copy); exactly once, from any thread."""
        with self._lock:
            if self._state == self._RECEIVED:
                raise TransferError("this TransferHandle was already received; a transfer is "
                                    "received exactly once (send a new handle per receiver)",
                                    code="FA173")
            if self._state == self._DROPPED:
                raise TransferError("this TransferHandle was dropped before it was received; "
                                    "its data is gone", code="FA174")
            self._state = self._RECEIVED
            data, self._data = self._data, None
            assert data is not None, "a pending TransferHandle holds its data"
            return data

    def drop(self) -> None:
        """Release the data of a transfer nobody will receive (no-op once received or dropped)."""
        with self._lock:
            if self._state == self._PENDING:
                self._state = self._DROPPED
                self._data = None

    def __repr__(self) -> str:
        state = ("pending", "received", "dropped")[self._state]
        return f"TransferHandle({self.nbytes} bytes, {state})"
