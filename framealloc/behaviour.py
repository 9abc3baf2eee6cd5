"""The behaviour filter: runtime patterns that cost memory or time, reported as FA510-FA516.

Each behaviour is a code with a length in frames (:class:`~framealloc.BehaviourFilter`); it is
reported as a :class:`~framealloc.BehaviourWarning` when it has lasted that long, then at most
once per that many frames while it goes on (per thread, and per pool for FA515/FA516). The
filter reads what exists anyway:

========  ==================================================  ======================================
code      behaviour                                           read from
========  ==================================================  ======================================
FA510     retained frame allocations promoted every frame     a (frame, run) pair the retention
                                                              part updates per promoting frame
FA511     pool boxes freed in the frame that made them        each PoolBox's (thread, frame) of
                                                              birth; a (frame, run) pair per thread
FA512     frame peak rising every frame                       the frame history (``peak``)
FA513     "heap" policy fallback every frame                  the frame history (fallbacks)
FA514     a soft budget passed every frame                    the budget events (last 256)
FA515     scratch pool allocated from, never reset            the pool's counters, sampled per check
FA516     typed pool's live records growing every frame      the pool's counters, sampled per check
========  ==================================================  ======================================

When it looks: Python's ``end_frame`` every ``check_every`` frames of the calling thread (a
compare per frame otherwise; frames begun and ended in @njit code count, so a compiled loop is
judged at the next Python ``end_frame``), ``alloc.check_behaviour()`` (every thread) and
``alloc.snapshot()``. FA512-FA514 read the last frames of the history, so a check sees every
frame, wherever it ended. FA515/FA516 sample the pools at each check: "every frame" there means
"at least one more live record per frame between every two checks".

>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc(behaviour=fa.BehaviourFilter(growth_frames=5))
>>> for n in range(8):
...     with alloc.frame():
...         _ = alloc.frame_array(64 * (n + 1), np.uint8)
>>> [e.code for e in alloc.check_behaviour(warn=False)]
['FA512']
"""
from __future__ import annotations

import os
import sys
import threading
from collections import deque
from dataclasses import dataclass
from types import FrameType

from . import history as _history
from .errors import BehaviourWarning, message, warn
from .kernels.layout import H_SOFT, F

__all__ = ["BehaviourEvent", "BehaviourPart", "NEVER"]

_FRAME_OPEN, _FRAME_NUMBER = int(F.frame_open), int(F.frame_number)

#: ``_ThreadArena.check_at`` while the filter is off: no frame number reaches it.
NEVER = 1 << 62

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))

#: Events kept for snapshots and traces (the oldest go first).
KEEP_EVENTS = 256


@dataclass(frozen=True)
class BehaviourEvent:
    """One report of the behaviour filter: its ``code`` (FA510-FA516), the warning's
    ``message``, the last ``frame`` of the pattern on thread slot ``thread_slot``, and its
    ``subject`` (the pool's name for FA515/FA516, else ``""``)."""

    code: str
    message: str
    frame: int
    thread_slot: int
    subject: str = ""

    def to_dict(self) -> dict:
        """The snapshot's warning entry (``snapshot.warnings``)."""
        return {"code": self.code, "category": "BehaviourWarning", "message": self.message,
                "frame": int(self.frame), "thread_slot": int(self.thread_slot)}


class _SlotState:
    """What the filter remembers about one thread slot."""

    __slots__ = ("slot", "tid", "reported", "scratch", "typed")

    def __init__(self, slot: int, tid: int):
        self.slot = slot
        self.tid = tid
        self.reported: dict = {}      # (code, subject) -> frame of the last report
        self.scratch: dict = {}       # name -> [frame since, resets then, allocations then]
        self.typed: dict = {}         # pool id -> [frame, live, streak start]


class BehaviourPart:
    """The behaviour filter of one SmartAlloc (``alloc._behaviour_part``), made when
    ``AllocConfig.behaviour`` is set. It reads the other parts through their public methods
    (``promotion_streak``, ``short_box_streak``, ``typed_pools``, ``scratch_pools``) and the
    history rings (:mod:`framealloc.history`); see the module docs."""

    def __init__(self, owner, config, frames, org, pools, scratch, retention):
        self._owner = owner
        self.settings = config.behaviour
        self._strict = config.strict
        self._history = config.history
        self._frames, self._org, self._pools = frames, org, pools
        self._scratch, self._retention = scratch, retention
        self._codes = frozenset(self.settings._active_codes(config.history))
        self._reads_history = bool(self._codes & {"FA512", "FA513", "FA514"})
        self._lock = threading.Lock()
        self._slots: dict[int, _SlotState] = {}
        self._words: dict = {}        # slot -> history.ring_words(...)
        self.events: deque = deque(maxlen=KEEP_EVENTS)

    # -- entry points ------------------------------------------------------------------------
    def due(self, ta) -> None:
        """Python's end_frame reached ``ta.check_at``: check the thread, warn, plan the next."""
        ta.check_at = ta.m[_FRAME_NUMBER] + self.settings.check_every
        found = self.check_thread(ta)
        if found:
            self.report(found)

    def check_all(self) -> list:
        """Check every live thread now (``alloc.check_behaviour()``); the new events."""
        found: list = []
        arenas = list(self._frames.arenas.values())
        me = getattr(self._frames.tls, "arena", None)
        judge = me if any(ta is me for ta in arenas) else (arenas[0] if arenas else None)
        for ta in arenas:                   # the pools are judged by one thread's frames
            found += self.check_thread(ta, pools=ta is judge)
        return found

    def report(self, events: list) -> None:
        """Warn about ``events`` at the first caller outside framealloc (and contextlib);
        strict: raise the first (all are recorded already)."""
        if not events:
            return
        level = 1
        f: FrameType | None = sys._getframe(0)
        while f is not None:
            fn = os.path.abspath(f.f_code.co_filename)
            if not (fn.startswith(_PKG_DIR) or os.path.basename(fn) == "contextlib.py"):
                break
            level += 1
            f = f.f_back
        for ev in events:
            w = BehaviourWarning(ev.message, code=ev.code)
            warn(w, strict=self._strict, stacklevel=level)

    # -- the checks --------------------------------------------------------------------------
    def check_thread(self, ta, pools: bool = True) -> list:
        """The behaviours thread ``ta`` shows now and that are due for a report (recorded in
        :attr:`events`); ``pools``: also judge the scratch and typed pools by its frames."""
        m = ta.m
        last = m[_FRAME_NUMBER] - m[_FRAME_OPEN]
        if last < 1:
            return []
        with self._lock:
            st = self._slots.get(ta.slot)
            if st is None or st.tid != ta.tid:
                st = self._slots[ta.slot] = _SlotState(ta.slot, ta.tid)
            found = self._thread_behaviours(ta, last)
            if pools:
                found += self._pool_behaviours(st, last)
            out = []
            for code, subject, text in found:
                n = self.settings._frames_of(code)
                prev = st.reported.get((code, subject))
                if prev is not None and last - prev < n:
                    continue              # reported in this window already
                st.reported[(code, subject)] = last
                ev = BehaviourEvent(code, text, int(last), ta.slot, subject)
                self.events.append(ev)
                out.append(ev)
            return out

    def _thread_behaviours(self, ta, last: int) -> list:
        s, codes = self.settings, self._codes
        found: list[tuple[str, str, str]] = []
        slot = ta.slot
        if "FA510" in codes:
            frame, run = self._retention.promotion_streak(ta)
            if frame == last and run >= s.promotion_frames:
                found.append(("FA510", "", message(
                    "FA510", what=f"thread slot {slot} promoted retained frame allocations in "
                    f"each of its last {run} frames (frames {last - run + 1}-{last})")))
        if "FA511" in codes:
            frame, run = self._pools.short_box_streak(ta.tid)
            if frame == last and run >= s.short_box_frames:
                found.append(("FA511", "", message(
                    "FA511", what=f"thread slot {slot} freed pool boxes in the frame that made "
                    f"them in each of its last {run} frames (frames {last - run + 1}-{last})")))
        if self._reads_history:
            found += self._history_behaviours(slot, last)
        return found

    def _history_behaviours(self, slot: int, last: int) -> list:
        s, codes = self.settings, self._codes
        found: list[tuple[str, str, str]] = []
        org, frames = self._org, self._frames
        words = self._words.get(slot)
        if words is None or words[0] is not org.history_rings.get(slot):
            words = self._words[slot] = _history.ring_words(org, slot)
            if words is None:
                return found
        peak, before, fallbacks = _history.last_entry(words, last)
        if "FA512" in codes and peak > before:
            n = s.growth_frames
            rec = _history.recent(org, frames, slot, n + 1)
            if rec is not None and bool((rec[1][1:] > rec[1][:-1]).all()):
                found.append(("FA512", "", message(
                    "FA512", what=f"the frame peak of thread slot {slot} rose in each of its "
                    f"last {n} frames, from {int(rec[1][0])} to {int(rec[1][-1])} bytes "
                    f"(frames {last - n + 1}-{last})")))
        if "FA513" in codes and fallbacks:
            n = s.heap_fallback_frames
            rec = _history.recent(org, frames, slot, n)
            if rec is not None and bool((rec[2] > 0).all()):
                found.append(("FA513", "", message(
                    "FA513", what=f"thread slot {slot} fell back to the heap in each of its "
                    f"last {n} frames ({int(rec[2].sum())} fallbacks, frames "
                    f"{last - n + 1}-{last})")))
        if "FA514" in codes and int(org.tables.hdr[H_SOFT]):
            n = s.soft_budget_frames
            hit = _history.soft_budget_frames(org, slot)
            if last in hit and all(f in hit for f in range(last - n + 1, last + 1)):
                found.append(("FA514", "", message(
                    "FA514", what=f"thread slot {slot} passed a soft budget in each of its "
                    f"last {n} frames (frames {last - n + 1}-{last})")))
        return found

    def _pool_behaviours(self, st: _SlotState, last: int) -> list:
        s, codes = self.settings, self._codes
        found: list[tuple[str, str, str]] = []
        scratch = self._scratch.scratch_pools() if "FA515" in codes else {}
        typed = self._pools.typed_pools() if "FA516" in codes else []
        if not (scratch or typed or st.scratch or st.typed):
            return found
        if "FA515" in codes:
            seen = set()
            for name, ps in scratch.items():
                seen.add(name)
                rec = st.scratch.get(name)
                if rec is None or ps.resets != rec[1] or ps.allocations < rec[2]:
                    st.scratch[name] = [last, ps.resets, ps.allocations]
                    continue
                if last - rec[0] >= s.scratch_reset_frames and ps.allocations > rec[2]:
                    found.append(("FA515", name, message(
                        "FA515", what=f"scratch pool {name!r} was allocated from "
                        f"{ps.allocations - rec[2]} times in the last {last - rec[0]} frames "
                        f"of thread slot {st.slot} and never reset ({ps.current} "
                        f"bytes held of {ps.capacity})")))
            for name in [k for k in st.scratch if k not in seen]:
                del st.scratch[name]
        if "FA516" in codes:
            seen = set()
            for pool in typed:
                key = id(pool)
                seen.add(key)
                live = pool.info().live
                rec = st.typed.get(key)
                if rec is not None and last == rec[0]:
                    continue                  # checked in this frame already
                if rec is None or last < rec[0]:
                    st.typed[key] = [last, live, last]
                    continue
                if live - rec[1] < last - rec[0]:
                    rec[2] = last             # grew less than a record per frame: start over
                rec[0], rec[1] = last, live
                if last - rec[2] >= s.typed_growth_frames:
                    found.append(("FA516", pool.name, message(
                        "FA516", what=f"typed pool {pool.name!r} grew by at least one live "
                        f"record per frame over the last {last - rec[2]} frames of thread slot "
                        f"{st.slot} ({live} live records now)")))
            for key in [k for k in st.typed if k not in seen]:
                del st.typed[key]
        return found
