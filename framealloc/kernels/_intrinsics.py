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


def call_cached(context, builder, dispatcher, sig, args, inline: bool | None = None):
    """Emit a call to the ``@njit(cache=True)`` ``dispatcher`` for ``sig`` from codegen.

    Unlike ``context.compile_internal`` (which compiles a Python function in every process),
    the dispatcher's compiled code comes from numba's cache; its library is linked into the
    caller's, so LLVM may still inline it. ``inline=True`` marks the call ``alwaysinline`` (a
    fast path of a few loads and stores), ``inline=False`` ``noinline`` (a slow path that must
    not make its caller bigger); ``None`` leaves it to LLVM.
    """
    argtys = tuple(sig.args)
    cres = dispatcher.overloads.get(argtys)
    if cres is None:          # by argument types only: the cache entry a plain call made
        dispatcher.compile(argtys)
        cres = dispatcher.overloads[argtys]
    context.active_code_library.add_linking_library(cres.library)
    block, first = builder.block, len(builder.block.instructions)
    status, res = context.call_internal_no_propagate(builder, cres.fndesc, cres.signature, args)
    if inline is not None:
        for instr in block.instructions[first:]:
            if isinstance(instr, ir.CallInstr):
                instr.attributes.add("alwaysinline" if inline else "noinline")
    with cgutils.if_unlikely(builder, status.is_error):
        context.call_conv.return_status_propagate(builder, status)
    return res


def _call_marked(inline: bool):
    def typer(typingctx, fn, args):
        if not isinstance(fn, types.Dispatcher) or not isinstance(args, types.BaseTuple):
            return None
        inner = fn.get_call_type(typingctx, tuple(args.types), {})
        inner = inner.return_type(*args.types)
        sig = inner.return_type(fn, args)

        def codegen(context, builder, signature, llargs):
            vals = cgutils.unpack_tuple(builder, llargs[1], len(args.types))
            return call_cached(context, builder, fn.dispatcher, inner, vals, inline=inline)

        return sig, codegen
    return typer


#: ``cold_call(f, (a, b))``: call the ``@njit(cache=True)`` function ``f`` out of line (never
#: inlined into the caller: for slow paths of the small methods that must stay inlinable).
cold_call = intrinsic(_call_marked(False))
#: ``hot_call(f, (a, b))``: call the ``@njit(cache=True)`` function ``f`` inlined into the caller
#: by LLVM (its compiled code comes from numba's cache: nothing to compile per caller).
hot_call = intrinsic(_call_marked(True))


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
