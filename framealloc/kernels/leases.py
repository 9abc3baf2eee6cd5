"""Leases: how ``close()`` knows whether compiled code still uses an object's memory.

A SmartAlloc, a SizeClassPools or a TypedPool passed to an ``@njit`` function unboxes to raw
addresses of its state (arena rows, slot tables, chunks). Those addresses are only safe while the
memory behind them lives, and ``close()`` may be called from another Python thread while a
``nogil`` kernel is still running with them. So every such object has a *lease*
(:data:`~framealloc.kernels.state.LEASE_DTYPE`): unboxing increments ``in_flight`` and the call's
argument clean-up decrements it. Both run in numba's call wrapper with the GIL held (the clean-up
runs after the wrapper has re-acquired the GIL of a ``nogil`` call), so plain loads and stores are
exact and ``close()`` (Python, GIL held) reads a true count.

``close()`` marks the object closed at once (every new call, from Python or a new compiled call,
raises FA015), then releases its memory if ``in_flight`` is 0, or else sets ``release_pending``:
the clean-up of the last running call sees ``in_flight`` reach 0 with a release pending and calls
the object's ``_native_exit()``, which releases it then. Compiled calls already running when
``close()`` is called therefore keep working with valid memory until they return; nothing is ever
freed under them.

The unboxed tuple is also kept until the clean-up: a pool's tuple holds its SmartAlloc, so the
allocator's arena rows and tag tables, which the pool's kernels charge, cannot be collected while
a kernel uses the pool.
"""
from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils
from numba.extending import NativeValue

__all__ = ["unbox_leased"]

_I64 = ir.IntType(64)


def _word(builder, addr, index):
    return builder.inttoptr(builder.add(addr, ir.Constant(_I64, 8 * index)), _I64.as_pointer())


def unbox_leased(typ, obj, c, method: str, fields, nleases: int) -> NativeValue:
    """Unbox ``obj`` into the struct of ``typ`` (with a ``parent`` member) from
    ``obj.<method>()``: a tuple of ``len(fields)`` ints for the struct's ``fields``, then
    ``nleases`` lease addresses (0: none), then anything that must stay alive during the call.

    A failed ``method`` (e.g. FA015 on a closed object) is an unboxing error with no lease taken.
    """
    builder = c.builder
    proxy = cgutils.create_struct_proxy(typ)(c.context, builder)
    handle = c.pyapi.call_method(obj, method, ())
    failed = cgutils.is_null(builder, handle)
    leases = [cgutils.alloca_once_value(builder, ir.Constant(_I64, 0)) for _ in range(nleases)]
    with builder.if_then(builder.not_(failed), likely=True):
        for i, field in enumerate(fields):
            setattr(proxy, field, c.pyapi.long_as_longlong(c.pyapi.tuple_getitem(handle, i)))
        for j, slot in enumerate(leases):
            addr = c.pyapi.long_as_longlong(c.pyapi.tuple_getitem(handle, len(fields) + j))
            builder.store(addr, slot)
            with builder.if_then(builder.icmp_unsigned("!=", addr, ir.Constant(_I64, 0))):
                p = _word(builder, addr, 0)
                builder.store(builder.add(builder.load(p), ir.Constant(_I64, 1)), p)
    proxy.parent = obj

    def cleanup():
        # After the call (GIL held): give the leases back; the last one of a closed object
        # releases its memory through ``obj._native_exit()`` (cold).
        due = cgutils.alloca_once_value(builder, cgutils.false_bit)
        for slot in leases:
            addr = builder.load(slot)
            with builder.if_then(builder.icmp_unsigned("!=", addr, ir.Constant(_I64, 0))):
                p = _word(builder, addr, 0)
                n = builder.sub(builder.load(p), ir.Constant(_I64, 1))
                builder.store(n, p)
                pending = builder.load(_word(builder, addr, 1))
                last = builder.and_(builder.icmp_signed("==", n, ir.Constant(_I64, 0)),
                                    builder.icmp_signed("!=", pending, ir.Constant(_I64, 0)))
                builder.store(builder.or_(builder.load(due), last), due)
        with builder.if_then(builder.load(due), likely=False):
            res = c.pyapi.call_method(obj, "_native_exit", ())
            with builder.if_else(cgutils.is_null(builder, res)) as (err, ok):
                with err:
                    c.pyapi.err_write_unraisable(obj)
                with ok:
                    c.pyapi.decref(res)
        c.pyapi.decref(handle)

    return NativeValue(proxy._getvalue(), is_error=failed, cleanup=cleanup)
