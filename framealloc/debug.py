"""Debug mode (``AllocConfig(debug=True)``): poisoning, allocation sites, escape reports and
thread checks for one SmartAlloc (``alloc._debug_part``).

An allocator in debug mode differs from any other in three places, chosen when it is made, so
that an allocator *not* in debug mode runs exactly the code it ran before (nothing tests a flag):

* its frames part ends and rolls back frames with the poisoning kernels
  (:func:`~framealloc.kernels.arena.end_frame_debug`, :func:`~framealloc.kernels.arena.
  rollback_debug`), bound on the instance in place of the plain ones;
* its Python frame bump (``alloc._alloc``) is :meth:`DebugPart.alloc`, which records a weak
  reference to every view with the Python line that asked for it; FrameVec, FrameMap and
  FrameLayout objects come from :func:`wrap_collections`;
* its numba type is ``SmartAlloc[debug]`` (:data:`~framealloc.kernels.njit_api.
  smart_alloc_debug_type`): @njit code compiled for it poisons in ``end_frame``/``rollback_to``
  and counts each frame allocation under the compiled function's name in a table whose address
  is in the organisation header (``debug_sites``).

``end_frame()`` from Python then reports the frame memory still referenced
(:class:`~framealloc.FrameViewEscapedWarning`, FA021) after the frame has ended and been
poisoned. Frame data used from another thread raises FA022
(:class:`~framealloc.WrongThreadError`).
"""
from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
import weakref
from types import FrameType

import numpy as np

from .errors import error, warn
from .kernels import status as ST
from .kernels.layout import DEBUG_SITE_DTYPE, DEBUG_SITES, F, H_DEBUG_SITES, ROW_WORDS

__all__ = ["DebugPart", "VIEW_TAKING", "wrap_collections"]

_PKG = os.path.dirname(os.path.abspath(__file__)) + os.sep
_FRAME_NUMBER, _BASE, _MEMINFO, _OPEN = (int(F.frame_number), int(F.base), int(F.meminfo),
                                         int(F.frame_open))
#: Records kept per thread before the dead ones are dropped (frames ended only inside @njit).
_TRIM = 4096
#: Views named in one warning; the rest are counted.
_NAMED = 8

#: SmartAlloc methods that take arrays (checked for other threads' frame views in debug mode).
VIEW_TAKING = tuple(f"{p}{n}" for p in ("", "try_") for n in (
    "frame_box", "frame_empty_like", "frame_zeros_like", "frame_full", "frame_full_like",
    "frame_copy", "frame_concatenate", "frame_stack", "frame_take", "frame_compress",
    "frame_nonzero", "frame_where")) + (
    "pool_box", "heap_box", "frame_retained", "frame_with_importance", "frame_box_for_transfer")


def call_site() -> str:
    """``file:line in function`` of the innermost caller outside the framealloc package."""
    f: FrameType | None = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        f = f.f_back
    if f is None:
        return "<unknown>"
    return f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno} in {f.f_code.co_name}"


def _describe(obj) -> str:
    if isinstance(obj, np.ndarray):
        return f"{obj.dtype} {obj.shape}"
    return type(obj).__name__


def _thread_name(ident) -> str:
    for t in threading.enumerate():
        if t.ident == ident:
            return repr(t.name)
    return str(ident)


class DebugPart:
    """Debug mode of one SmartAlloc; see the module docstring. Installed by the SmartAlloc
    when ``config.debug`` is True (:meth:`install`)."""

    def __init__(self, owner, frames, org_tables):
        # Weak references: the frames part holds this part's methods (no reference cycle).
        self._owner = owner                 # weak reference to the SmartAlloc
        self._frames = weakref.ref(frames)
        self.workers = frames.workers
        cfg = frames.config
        # The arena rows as flat int64 words (row r's field f is word r * ROW_WORDS + f).
        self._words = memoryview(frames.rows.reshape(-1).view(np.int64))
        # tid -> [(weak reference, site, frame number)] of the Python frame allocations.
        self.records: dict[int, list] = {}
        # The @njit site table: DEBUG_SITE entries by (slot, worker, entry).
        self.sites = np.zeros((cfg.max_threads, frames.workers, DEBUG_SITES), DEBUG_SITE_DTYPE)
        org_tables.hdr[H_DEBUG_SITES] = self.sites.ctypes.data

    def install(self, alloc, frames, collections) -> None:
        """Bind the debug paths on the instances (the classes stay as they are)."""
        frames.end = self.end
        frames.rollback = self.rollback
        frames.scope_end = self.scope_end
        alloc._alloc = self.alloc
        wrap_collections(collections, self)

    # -- allocation sites ------------------------------------------------------------------
    def alloc(self, shape, dtype, align, zero: bool, try_: bool):
        """The frames part's bump, then the view recorded with its site."""
        out = self._frames().alloc(shape, dtype, align, zero, try_)
        if out is not None:
            self.track(out)
        return out

    def track(self, obj) -> None:
        """Remember ``obj`` (a frame view or collection) with the caller's site."""
        ta = self._frames().tls.arena
        recs = self.records.get(ta.tid)
        if recs is None:
            recs = self.records[ta.tid] = []
        elif len(recs) >= _TRIM and len(recs) % _TRIM == 0:
            recs[:] = [r for r in recs if r[0]() is not None]
        recs.append((weakref.ref(obj), call_site(), ta.m[_FRAME_NUMBER]))

    # -- end of frame ------------------------------------------------------------------------
    def end(self, ta) -> None:
        """End ``ta``'s frame poisoned (FA003 if none is open), then warn about what escaped."""
        report = self._escapes(ta) if ta.m[_OPEN] else None
        st = _arena().end_frame_debug(ta.row_addr, self.workers)
        if st:
            raise error(st)
        if report is not None:
            owner = self._owner()
            warn(report, strict=owner is not None and owner.config.strict,
                 stacklevel=_user_level())

    def rollback(self, cp):
        """:meth:`FramesPart.rollback <framealloc.alloc.FramesPart.rollback>` with the
        poisoning kernel (the same checks, in the same order)."""
        from .checkpoints import FrameCheckpoint

        frames = self._frames()
        ta = frames.token_arena(cp, FrameCheckpoint)
        frames.pop(_arena().rollback_debug, cp)
        return ta

    def scope_end(self, s):
        """:meth:`FramesPart.scope_end <framealloc.alloc.FramesPart.scope_end>` with the
        poisoning kernel (the same checks, in the same order)."""
        from .checkpoints import SCOPE_BIT, SCOPE_TYPE_MESSAGE, FrameCheckpoint, FrameScope

        frames = self._frames()
        ta = frames.token_arena(s, FrameScope, **SCOPE_TYPE_MESSAGE)
        frames.pop(_arena().scope_end_debug, s)
        return ta, FrameCheckpoint(*s[:4], s.serial & ~SCOPE_BIT, *s[5:])

    def _escapes(self, ta):
        """The FA021 warning for what still references the frame of ``ta``, or None."""
        frame = ta.m[_FRAME_NUMBER]
        named, n = [], 0
        for ref, site, made in self.records.pop(ta.tid, ()):
            obj = ref()
            if obj is None:
                continue
            n += 1
            if len(named) < _NAMED:
                older = "" if made == frame else f" (frame {made})"
                named.append(f"{_describe(obj)} made at {site}{older}")
            del obj
        if n > len(named):
            named.append(f"{n - len(named)} more")
        native, sites = self._native_escapes(ta, frame)
        if native:
            where = ", ".join(f"{name} x{count}" for name, count in sites) or "unknown sites"
            named.append(f"{native} array{'s' if native > 1 else ''} made inside @njit code "
                         f"(this frame's @njit allocations: {where})")
            n += native
        if not n:
            return None
        from .errors import FrameViewEscapedWarning, message

        return FrameViewEscapedWarning(message(ST.VIEW_ESCAPED, count=n, s="s" if n > 1 else "",
                                               views="; ".join(named)))

    def _native_escapes(self, ta, frame: int) -> tuple[int, list]:
        """(references to the frame's chunks beyond the allocator's own -- arrays made by @njit
        code and returned --, the @njit sites of this frame as (name, count))."""
        words, extra = self._words, 0
        at = ta.slot * self.workers * ROW_WORDS
        for w in range(self.workers):
            mi = words[at + _MEMINFO]
            if words[at + _OPEN] and mi:
                refs = ctypes.c_ssize_t.from_address(mi).value
                own = 1    # the row's reference
                if w == 0 and ta.chunk is not None and ta.base == ta.m[_BASE]:
                    own += 1   # the Python views' wrapper (every Python view shares it)
                extra += max(0, refs - own)
            at += ROW_WORDS
        if not extra:
            return 0, []
        sites: dict[str, int] = {}
        if extra:
            table = self.sites[ta.slot].reshape(-1)
            for name, fr, count, _ in table.tolist():
                if fr == frame and name:
                    key = ctypes.string_at(name).decode("utf-8", "replace")
                    sites[key] = sites.get(key, 0) + count
        return extra, sorted(sites.items())

    # -- threads ---------------------------------------------------------------------------
    def check_args(self, args, kwargs, call: str) -> None:
        """FA022 when an array argument lies in another thread's open frame."""
        arrays = []
        for v in (*args, *kwargs.values()):
            if isinstance(v, np.ndarray):
                arrays.append(v)
            elif isinstance(v, (list, tuple)):
                arrays.extend(x for x in v if isinstance(x, np.ndarray))
        if not arrays:
            return
        frames = self._frames()
        rows = frames.rows
        here = frames.arena().slot
        base = rows["base"]
        end = base + rows["capacity"]
        live = (rows["owner"] != 0) & (rows["frame_open"] != 0) & (rows["meminfo"] != 0)
        live[here, :] = False
        if not live.any():
            return
        for a in arrays:
            addr = a.__array_interface__["data"][0]
            hit = np.flatnonzero((live & (base <= addr) & (addr < end)).any(axis=1))
            if hit.size:
                ta = frames.arenas.get(int(hit[0]))
                owner = repr(ta.name) if ta is not None else "another thread"
                raise error(ST.FOREIGN_THREAD, what=f"a frame view passed to {call}()",
                            owner=owner, here=repr(threading.current_thread().name))


_kernels = None


def _arena():
    """The frame kernels (numba is imported on first use, never at framealloc import)."""
    global _kernels
    if _kernels is None:
        from .kernels import arena
        _kernels = arena
    return _kernels


def _user_level() -> int:
    """The ``stacklevel`` (counted from the caller of :func:`~framealloc.errors.warn`) of the
    first frame outside framealloc and contextlib (``with alloc.frame():`` ends frames from
    contextlib), so the warning points at the user's line."""
    f: FrameType | None = sys._getframe(2)
    level = 2
    while f is not None and (f.f_code.co_filename.startswith(_PKG)
                             or f.f_code.co_filename.endswith("contextlib.py")):
        f, level = f.f_back, level + 1
    return level


def checked(method, name: str):
    """``method`` of a debug SmartAlloc with :meth:`DebugPart.check_args` first."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        self._debug_part.check_args(args, kwargs, name)
        return method(self, *args, **kwargs)
    return run


# ---------------------------------------------------------------------------------------------
# Collections: thread checks and tracking

def _thread_checked(cls, names):
    """A subclass of FrameVec/FrameMap whose ``names`` check the calling thread first (FA022)."""
    def wrap(name):
        plain = getattr(cls, name)

        @functools.wraps(plain)
        def run(self, *args, **kwargs):
            if threading.get_ident() != self._ident:
                raise error(ST.FOREIGN_THREAD, what=f"this {cls.__name__}",
                            owner=_thread_name(self._ident),
                            here=repr(threading.current_thread().name))
            return plain(self, *args, **kwargs)
        return run

    body = {"__slots__": ("_ident",), "__doc__": f"A {cls.__name__} of a debug-mode allocator: "
            "every method refuses other threads (FA022)."}
    for name in names:
        attr = cls.__dict__.get(name)
        if isinstance(attr, property):
            body[name] = property(wrap_property(attr, cls))
        else:
            body[name] = wrap(name)
    return type(cls.__name__, (cls,), body)


def wrap_property(prop, cls):
    def get(self):
        if threading.get_ident() != self._ident:
            raise error(ST.FOREIGN_THREAD, what=f"this {cls.__name__}",
                        owner=_thread_name(self._ident),
                        here=repr(threading.current_thread().name))
        return prop.fget(self)
    return get


_DEBUG_CLASSES: dict = {}


def _debug_class(cls):
    sub = _DEBUG_CLASSES.get(cls)
    if sub is None:
        names = [n for n, v in vars(cls).items()
                 if (not n.startswith("_") or n in ("__len__", "__getitem__", "__setitem__",
                                                    "__delitem__", "__iter__", "__array__",
                                                    "__contains__"))
                 and (callable(v) or isinstance(v, property)) and n != "_numba_type_"]
        sub = _DEBUG_CLASSES[cls] = _thread_checked(cls, names)
    return sub


def _as_debug(obj):
    """``obj`` (a FrameVec or FrameMap just made on this thread) as its thread-checked class."""
    sub = _debug_class(type(obj))
    new = object.__new__(sub)
    for klass in type(obj).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot != "__weakref__" and hasattr(obj, slot):
                setattr(new, slot, getattr(obj, slot))
    new._ident = threading.get_ident()
    return new


def wrap_collections(part, debug: DebugPart) -> None:
    """Debug forms of a CollectionsPart's makers, bound on the instance: collections are
    thread-checked and tracked; layouts allocate each array through the tracked bump every
    time (no cached views, which the layout would keep alive across frames)."""
    cls, ref = type(part), weakref.ref(part)

    def _frame_vec(dtype, capacity, try_):
        v = cls._frame_vec(ref(), dtype, capacity, try_)
        if v is None:
            return None
        v = _as_debug(v)
        debug.track(v)
        return v

    def _frame_map(key_dtype, value_dtype, capacity, try_):
        m = cls._frame_map(ref(), key_dtype, value_dtype, capacity, try_)
        if m is None:
            return None
        m = _as_debug(m)
        debug.track(m)
        return m

    @functools.wraps(cls.frame_layout)
    def frame_layout(fields=None, /, **kwfields):
        lay = cls.frame_layout(ref(), fields, **kwfields)
        lay.__class__ = _uncached_layout(type(lay))
        return lay

    part._frame_vec, part._frame_map, part.frame_layout = _frame_vec, _frame_map, frame_layout


def _uncached_layout(cls):
    sub = _DEBUG_CLASSES.get(cls)
    if sub is None:
        def alloc(self):
            owner = self._owner
            try:
                ta = owner._tls.arena
            except AttributeError:
                ta = owner._attach()
            return self._alloc_each(owner, ta)
        alloc.__doc__ = cls.alloc.__doc__
        sub = _DEBUG_CLASSES[cls] = type(cls.__name__, (cls,), {"__slots__": (), "alloc": alloc})
    return sub
