"""Low-level intrinsics shared by the kernels: raw int64 pointers and atomic read-modify-writes."""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_I64 = ir.IntType(64)


@intrinsic
def as_i64_ptr(typingctx, addr):
    """int address -> int64* (for carray over state tables)."""
    sig = types.CPointer(types.int64)(types.intp)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


@intrinsic
def atomic_add(typingctx, addr, value):
    """``*addr += value`` atomically (sequentially consistent); returns the old value."""
    sig = types.int64(types.intp, types.int64)

    def codegen(context, builder, signature, args):
        ptr = builder.inttoptr(args[0], _I64.as_pointer())
        return builder.atomic_rmw("add", ptr, args[1], "seq_cst")

    return sig, codegen


@intrinsic
def atomic_cas(typingctx, addr, expected, new):
    """Compare-and-swap ``*addr`` from ``expected`` to ``new``; returns the value seen."""
    sig = types.int64(types.intp, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        ptr = builder.inttoptr(args[0], _I64.as_pointer())
        res = builder.cmpxchg(ptr, args[1], args[2], "seq_cst", "seq_cst")
        return builder.extract_value(res, 0)

    return sig, codegen


@intrinsic
def atomic_load(typingctx, addr):
    """An atomic (never cached or hoisted) load of ``*addr``."""
    sig = types.int64(types.intp)

    def codegen(context, builder, signature, args):
        ptr = builder.inttoptr(args[0], _I64.as_pointer())
        return builder.load_atomic(ptr, "seq_cst", 8)

    return sig, codegen


@intrinsic
def ld(typingctx, addr):
    """``*(int64*)addr`` (a plain load)."""
    sig = types.int64(types.intp)

    def codegen(context, builder, signature, args):
        return builder.load(builder.inttoptr(args[0], _I64.as_pointer()))

    return sig, codegen


@intrinsic
def st(typingctx, addr, value):
    """``*(int64*)addr = value`` (a plain store)."""
    sig = types.void(types.intp, types.int64)

    def codegen(context, builder, signature, args):
        builder.store(context.cast(builder, args[1], signature.args[1], types.int64),
                      builder.inttoptr(args[0], _I64.as_pointer()))
        return context.get_dummy_value()

    return sig, codegen


def thread_id(builder):
    """Emit ``numba.get_thread_id()``: the worker index inside a parallel region, 0 outside
    (a ``readnone`` call, which LLVM hoists out of loops)."""
    fnty = ir.FunctionType(cgutils.intp_t, [])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "get_thread_id")
    fn.attributes.add("nounwind")
    fn.attributes.add("readnone")
    return builder.call(fn, [])


@intrinsic
def cycles(typingctx):
    """The CPU's timestamp counter (x86-64 ``rdtsc``, AArch64 ``cntvct_el0``); 0 elsewhere.
    Not serialising: a cheap clock for frame times, converted to ns by calibration
    (:func:`framealloc.history.tick_ns`)."""
    sig = types.int64()

    def codegen(context, builder, signature, args):
        triple = builder.module.triple or ""
        if triple.startswith(("x86_64", "amd64")):
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I64, []),
                                                "llvm.readcyclecounter")
            return builder.call(fn, [])
        if triple.startswith(("aarch64", "arm64")):
            asm = ir.InlineAsm(ir.FunctionType(_I64, []), "mrs $0, cntvct_el0", "=r",
                               side_effect=True)
            return builder.call(asm, [])
        return ir.Constant(_I64, 0)

    return sig, codegen
