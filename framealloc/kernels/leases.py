"""Leases: compiled code never uses an object's memory after it was released.

A SmartAlloc, a SizeClassPools or a TypedPool passed to an ``@njit`` function unboxes to raw
addresses of its state (arena rows, slot tables, chunks). Those addresses are only safe while the
memory behind them lives, and ``close()`` may be called from another Python thread while a
``nogil`` kernel still runs with them.

So every such object has a *lease* (:class:`framealloc._closing.Lease`): unboxing increments its
count of running calls and the call's argument clean-up decrements it, both in numba's call
wrapper with the GIL held (the clean-up runs after a ``nogil`` call has re-acquired the GIL), so
plain loads and stores are exact, also when the call raises. ``close()`` marks the object closed
at once (every new call, from Python or a new compiled call, raises FA015) and releases its memory
if no call is running, or else leaves that to the last running call: its clean-up sees the count
reach 0 with the owner gone and calls the object's ``_native_exit()``. Compiled calls already
running when ``close()`` is called keep working with valid memory until they return.

The unboxed tuple is kept until the clean-up: a pool's tuple holds its SmartAlloc, so the
allocator's arena rows and tag tables, which the pool's kernels charge, stay alive while a call
uses the pool. Generators are refused (:func:`refuse_in_generators`): numba keeps a suspended
generator's arguments without any of this.
"""
from __future__ import annotations

import ctypes

from llvmlite import ir
from numba.core import cgutils
from numba.extending import NativeValue

from .layout import L_DROPPED, L_HOLDERS

__all__ = ["unbox_leased", "box_parent", "refuse_in_generators"]

_I64 = ir.IntType(64)
_ULONG_BYTES = ctypes.sizeof(ctypes.c_ulong)   # PyThread_get_thread_ident() returns unsigned long


def _word(builder, addr, index):
    return builder.inttoptr(builder.add(addr, ir.Constant(_I64, 8 * index)), _I64.as_pointer())


def _table_lookup(c, obj, table_attr: str, width: int):
    """The address of the calling thread's entry in the native table at ``obj.<table_attr>``
    (row 0: the number of entries; each entry ``width`` words, the first the thread ident), or
    0 when the thread has none. Runs no Python code beyond one attribute read."""
    builder = c.builder
    found = cgutils.alloca_once_value(builder, ir.Constant(_I64, 0))
    tab_obj = c.pyapi.object_getattr_string(obj, table_attr)
    with builder.if_else(cgutils.is_not_null(builder, tab_obj), likely=True) as (ok, err):
        with err:           # never expected; the slow path then decides
            c.pyapi.err_clear()
        with ok:
            _scan_table(c, tab_obj, width, found)
    return builder.load(found)


def _scan_table(c, tab_obj, width, found):
    builder = c.builder
    tab = c.pyapi.long_as_longlong(tab_obj)
    c.pyapi.decref(tab_obj)
    fnty = ir.FunctionType(ir.IntType(8 * _ULONG_BYTES), [])
    get_ident = cgutils.get_or_insert_function(builder.module, fnty, "PyThread_get_thread_ident")
    ident = builder.call(get_ident, [])
    if _ULONG_BYTES < 8:
        ident = builder.zext(ident, _I64)
    n = builder.load(_word(builder, tab, 0))
    with cgutils.for_range(builder, n) as loop:
        entry = builder.add(tab, builder.mul(builder.add(loop.index, ir.Constant(_I64, 1)),
                                             ir.Constant(_I64, 8 * width)))
        hit = builder.icmp_signed("==", builder.load(_word(builder, entry, 0)), ident)
        with builder.if_then(hit, likely=False):
            builder.store(entry, found)
            loop.do_break()


def unbox_leased(typ, obj, c, method: str, fields, nleases: int,
                 table_attr: str | None = None) -> NativeValue:
    """Unbox ``obj`` into the struct of ``typ`` (with a ``parent`` member) from
    ``obj.<method>()``: a tuple of ``len(fields)`` ints for the struct's ``fields``, then
    ``nleases`` lease addresses (0: none), then anything that must stay alive during the call.

    With ``table_attr``, the calling thread's entry in the object's native table (the thread
    ident, then the same ints as the tuple) is read first and ``method`` only runs when the
    thread has none (first call on the thread, or the object closed: its table is empty).
    The table is read and the lease taken with the GIL held, as the Python side writes it.

    A failed ``method`` (e.g. FA015 on a closed object) is an unboxing error with no lease taken.
    """
    builder = c.builder
    proxy = cgutils.create_struct_proxy(typ)(c.context, builder)
    nvals = len(fields) + nleases
    vals = [cgutils.alloca_once_value(builder, ir.Constant(_I64, 0)) for _ in range(nvals)]
    handle_slot = cgutils.alloca_once_value(builder, c.pyapi.get_null_object())
    failed_slot = cgutils.alloca_once_value(builder, cgutils.false_bit)
    entry = _table_lookup(c, obj, table_attr, 1 + nvals) if table_attr else None
    miss = (builder.icmp_unsigned("==", entry, ir.Constant(_I64, 0)) if entry is not None
            else cgutils.true_bit)
    with builder.if_else(miss, likely=False) as (slow, fast):
        with slow:
            handle = c.pyapi.call_method(obj, method, ())
            builder.store(handle, handle_slot)
            failed = cgutils.is_null(builder, handle)
            builder.store(failed, failed_slot)
            with builder.if_then(builder.not_(failed), likely=True):
                for i, val in enumerate(vals):
                    builder.store(c.pyapi.long_as_longlong(c.pyapi.tuple_getitem(handle, i)), val)
        with fast:
            if entry is not None:
                for i, val in enumerate(vals):
                    builder.store(builder.load(_word(builder, entry, 1 + i)), val)
    failed = builder.load(failed_slot)
    handle = builder.load(handle_slot)
    leases = vals[len(fields):]
    with builder.if_then(builder.not_(failed), likely=True):
        for field, val in zip(fields, vals):
            setattr(proxy, field, builder.load(val))
        for slot in leases:
            addr = builder.load(slot)
            with builder.if_then(builder.icmp_unsigned("!=", addr, ir.Constant(_I64, 0))):
                p = _word(builder, addr, L_HOLDERS)
                builder.store(builder.add(builder.load(p), ir.Constant(_I64, 1)), p)
    proxy.parent = obj

    def cleanup():
        # After the call (GIL held): give the leases back; the last one of an object whose
        # owner let go releases its memory through ``obj._native_exit()`` (cold).
        due = cgutils.alloca_once_value(builder, cgutils.false_bit)
        for slot in leases:
            addr = builder.load(slot)
            with builder.if_then(builder.icmp_unsigned("!=", addr, ir.Constant(_I64, 0))):
                p = _word(builder, addr, L_HOLDERS)
                n = builder.sub(builder.load(p), ir.Constant(_I64, 1))
                builder.store(n, p)
                dropped = builder.load(_word(builder, addr, L_DROPPED))
                last = builder.and_(builder.icmp_signed("==", n, ir.Constant(_I64, 0)),
                                    builder.icmp_signed("!=", dropped, ir.Constant(_I64, 0)))
                builder.store(builder.or_(builder.load(due), last), due)
        with builder.if_then(builder.load(due), likely=False):
            res = c.pyapi.call_method(obj, "_native_exit", ())
            with builder.if_else(cgutils.is_null(builder, res)) as (err, ok):
                with err:
                    c.pyapi.err_write_unraisable(obj)
                with ok:
                    c.pyapi.decref(res)
        c.pyapi.decref(handle)    # NULL (the table's fast path) is fine: Py_DecRef

    return NativeValue(proxy._getvalue(), is_error=failed, cleanup=cleanup)


def box_parent(typ, val, c):
    """Box the struct back into the Python object it was unboxed from."""
    proxy = cgutils.create_struct_proxy(typ)(c.context, c.builder, value=val)
    c.pyapi.incref(proxy.parent)
    return proxy.parent


def refuse_in_generators(*type_classes) -> None:
    """Make every attribute/method of these numba types refuse (FA019) inside a @njit generator.

    numba saves a generator's arguments without any reference to the Python object, so a
    suspended generator could resume after the allocator was garbage-collected and touch freed
    state. The check is an attribute template registered before the type's own methods (numba
    tries templates in registration order), so it runs first for every ``obj.name`` and costs
    nothing at run time.
    """
    from numba.core.typing.templates import AttributeTemplate, infer_getattr

    from ..errors import error
    from .status import Status

    for cls in type_classes:
        class _NoGenerators(AttributeTemplate):
            key = cls

            def generic_resolve(self, typ, attr):
                stack = self.context.callstack
                if len(stack) and stack[0].func_id.is_generator:
                    raise error(Status.IN_GENERATOR, what=str(typ),
                                gen=f" {stack[0].func_id.func_qualname!r}")
                return None

        infer_getattr(_NoGenerators)
