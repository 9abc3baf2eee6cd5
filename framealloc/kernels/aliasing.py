"""Keep numba's dead-code elimination from deleting writes through arrays it thinks are fresh.

Why this module exists
----------------------
numba's dead-code elimination (``numba.core.ir_utils.remove_dead``) deletes a ``d[i] = v``
statement (an ``ir.SetItem``: any index that is not a compile-time constant) when ``d`` is not
used afterwards, unless its alias analysis (``find_potential_aliases``) connects ``d`` to an
argument or to an array that is still live. That analysis knows aliases from plain copies,
getitem and casts, ``.T``/``.flat``/``.ctypes``, getattr on arguments, ``ravel``/``transpose``/
``reshape`` and registered ``alias_func_extensions``; a variable bound to the result of *any
other call* is taken for fresh memory nobody else can see. So in::

    d = pool.data          # a view of the pool's slots (our make_view intrinsic)
    d[i] = x               # the last use of d

the write is deleted, and so are ``d += x`` (an in-place binop whose target is "fresh") and
writes into a fresh array that escaped first (``t = (d,); d[i] = x``). numba runs this
elimination on every function that inlined an ``inline="always"`` overload (the
``InlineOverloads`` pass) and in the ``parallel=True`` pipeline (also inside ``prange`` bodies,
where a ``d[i] = x`` indexed by the loop variable is dropped the same way). Every framealloc
method is an ``inline="always"`` overload, so every njit function that calls one was exposed,
in its own code too: ``d = get(a); d[i] = v`` with a user's ``@njit def get(a): return a`` is
lost the same way. This is numba issue 10041 ("find_potential_aliases ... needs to be more
conservative"), still open for the numba versions framealloc supports.

What it does
------------
:func:`install` registers hooks in ``numba.core.ir_utils.alias_analysis_extensions``, which
``find_potential_aliases`` calls for every statement of the matching type (chaining to any hook
already registered there):

* ``ir.SetItem`` (``d[i] = v``, ``d[i:j] = v``, ``d[i, j] = v``): the written variable ``d``;
* ``ir.Assign`` of an ``inplace_binop`` (``d += v``, which numba deletes as an assignment
  "without side effects" when ``d`` is neither live nor an alias): its left operand;
* ``ir.StaticSetItem`` (a constant index, ``d[0] = v``): never deleted at function level; in a
  parfor body ``remove_dead_parfor`` deletes set-items indexed by the loop variable, which a
  constant never is. Hooked anyway (one dict lookup) in case numba widens that rule.

Those are all the writes numba's dead-code elimination can delete: ``remove_dead_block`` only
removes dead assignments, ``del`` and ``ir.SetItem``; ``ir.SetAttr`` (``d[i].x = v``, why record
fields "worked"), ``ir.DelItem``, ``ir.StoreMap`` and calls (``d.fill(v)``) are always kept.

The hook adds that variable to ``arg_aliases`` -- the set numba treats as always live, like an
argument -- unless the variable provably holds fresh memory made in this function that nothing
else can see: every definition of it, followed back through copies, getitem/cast, view
attributes (``T``, ``flat``, ``real``, ``imag``, ``ctypes``), in-place binops and view methods
(``ravel``, ``reshape``, ``transpose``, ``view``, ``squeeze``, ``swapaxes``), ends in an
allocation numba itself treats as fresh (``np.empty``/``zeros``/``ones``/``full`` and their
``_like`` forms, ``np.arange``/``linspace``/``array``/``copy``/``eye``/``identity``, ``.copy()``,
an array expression or a typed binop/unary on arrays, numba's ``empty_inferred``), and none of
those allocations escapes (into a tuple/list/dict/set, an attribute, another array, a call
argument, a ``return``/``yield``/``raise``, or any statement this module does not know). A call
of anything else (a jitted function, an intrinsic such as our views), getattr on a non-array
object, an argument, a global, a missing definition or an analysis over budget all count as "may
alias": when in doubt, the write is kept.

The hooks only ever *add* names to ``arg_aliases``: numba keeps more writes, never fewer (the
only cost is a dead write to a non-fresh array that stays, and a parfor that ``maximize_fusion``
will not move across such a write). They are cheap: a variable already in ``arg_aliases``
returns at once, an ``ir.Assign`` that is not an in-place binop costs one type check, and the
walks are memoized per ``find_potential_aliases`` run (which rebuilds ``func_ir._definitions``
first; a new definitions table starts a new memo). Parfor lowering calls the analysis with a
dict for ``arg_aliases``; that run does no dead-code elimination and is left alone.

:func:`install` is idempotent and runs before anything compiles: from
:func:`framealloc.kernels.ensure_registered` and numba's ``numba_extensions`` entry point
(``framealloc.kernels._numba_init``). Importing :mod:`framealloc` does not import this module.
"""
from __future__ import annotations

import numpy as np
from numba.core import ir, ir_utils, types
from numba.core.extending import _Intrinsic

__all__ = ["install"]

_MARK = "_framealloc_alias_hook"

#: numpy functions whose result is a new array (numba's own fresh allocations).
_FRESH_NP = frozenset({
    "empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like", "full_like",
    "arange", "linspace", "array", "copy", "eye", "identity",
})
#: numba intrinsics that allocate the array of a comprehension.
_FRESH_INTRINSICS = frozenset({"empty_inferred", "unsafe_empty_inferred"})
#: getattr on an array that returns a view of the same memory.
_VIEW_ATTRS = frozenset({"T", "flat", "real", "imag", "ctypes"})
#: methods of an array that return a view of the same memory.
_VIEW_METHODS = frozenset({"ravel", "reshape", "transpose", "view", "squeeze", "swapaxes"})
#: methods of an array that return a new array.
_FRESH_METHODS = frozenset({"copy"})
#: getattr on an array that neither aliases nor exposes its memory.
_PLAIN_ATTRS = frozenset({"shape", "size", "ndim", "dtype", "itemsize", "nbytes", "strides"})
#: expressions whose result may alias their (first) operand ``value``.
_THROUGH_VALUE = frozenset({"getitem", "static_getitem", "typed_getitem", "cast"})
#: iteration over an array yields its rows (views) or elements.
_ITERATION = frozenset({"getiter", "iternext", "pair_first", "exhaust_iter"})
#: id -> (name, object) of the numpy functions above, called through a global (``empty(...)``).
_NP_NAMES = {id(getattr(np, n)): (n, getattr(np, n))
             for n in _FRESH_NP | _VIEW_METHODS if hasattr(np, n)}
#: a backward walk or a forward closure visiting more variables than this gives up ("alias").
_BUDGET = 256

_SCALARS = (types.Number, types.Boolean, types.NPDatetime, types.NPTimedelta,
            types.NoneType, types.StringLiteral, types.UnicodeType)


class _Analysis:
    """Memo of one ``find_potential_aliases`` run over one function."""

    __slots__ = ("defs", "typemap", "blocks", "memo", "uses")

    def __init__(self, func_ir, typemap):
        self.defs = func_ir._definitions
        self.typemap = typemap
        self.blocks = func_ir.blocks
        self.memo = {}
        self.uses = None

    # -- typing --------------------------------------------------------------------------------

    def _type(self, name):
        tm = self.typemap
        if tm is None:
            return None
        return tm.get(name)

    def _scalar(self, name):
        """True when ``name`` is typed as a value that cannot carry an array's memory."""
        return isinstance(self._type(name), _SCALARS)

    def _not_array(self, name):
        """True when ``name`` is typed and provably not an array."""
        ty = self._type(name)
        return ty is not None and not isinstance(ty, types.Array)

    # -- backward: where does a variable's memory come from? -----------------------------------

    def may_alias(self, name):
        """False only if ``name`` certainly holds fresh, unescaped memory made in this function."""
        memo = self.memo
        r = memo.get(name)
        if r is None:
            r = self._may_alias(name)
            memo[name] = r
        return r

    def _may_alias(self, name):
        defs = self.defs
        seen = {name}
        work = [name]
        roots = []
        while work:
            if len(seen) > _BUDGET:
                return True
            var = work.pop()
            found = defs.get(var)
            if not found:
                return True                     # an argument of a parfor body, a dummy...
            for value in found:
                nxt = self._source(var, value, roots)
                if nxt is True:
                    return True
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    work.append(nxt)
        for root in roots:
            if self._escapes(root):
                return True
        return False

    def _source(self, var, value, roots):
        """One definition ``var = value``: True (may alias), a variable name to follow, or None
        (fresh: ``var`` is appended to ``roots``)."""
        if isinstance(value, ir.Var):
            return value.name
        if not isinstance(value, ir.Expr):
            return True                         # ir.Arg, ir.Global, ir.FreeVar, ir.Const, ...
        op = value.op
        if op in _THROUGH_VALUE:
            return value.value.name
        if op == "inplace_binop":
            return value.lhs.name
        if op == "getattr":
            if value.attr in _VIEW_ATTRS and not self._not_array(value.value.name):
                return value.value.name
            return True
        if op == "call":
            return self._call_source(var, value, roots)
        if op == "arrayexpr":
            roots.append(var)
            return None
        if op in ("binop", "unary"):
            # numpy operators on arrays make new arrays; other operand types may not
            if self.typemap is None or not isinstance(self._type(var), types.Array):
                return True
            operands = ([value.lhs, value.rhs] if op == "binop" else [value.value])
            for v in operands:
                if not isinstance(self._type(v.name), (types.Array,) + _SCALARS):
                    return True
            roots.append(var)
            return None
        return True                             # phi, pair_first, build_*, make_function, ...

    def _call_source(self, var, call, roots):
        fdefs = self.defs.get(call.func.name)
        if not fdefs or len(fdefs) != 1:
            return True
        fdef = fdefs[0]
        if isinstance(fdef, (ir.Global, ir.FreeVar)):
            fn = fdef.value
            if isinstance(fn, _Intrinsic):
                if fn._name in _FRESH_INTRINSICS and fn.__module__.startswith("numba."):
                    roots.append(var)
                    return None
                return True
            return self._numpy_call(var, call, _NP_NAMES.get(id(fn), (None, None)), fn, roots)
        if not (isinstance(fdef, ir.Expr) and fdef.op == "getattr"):
            return True
        obj, attr = fdef.value.name, fdef.attr
        odefs = self.defs.get(obj)
        if odefs and len(odefs) == 1 and isinstance(odefs[0], (ir.Global, ir.FreeVar)):
            if odefs[0].value is np:            # np.empty(...), np.reshape(d, ...)
                return self._numpy_call(var, call, (attr, getattr(np, attr, None)),
                                        getattr(np, attr, None), roots)
            return True
        if self._not_array(obj):
            return True
        if attr in _VIEW_METHODS:
            return obj                          # d.reshape(...) aliases d
        if attr in _FRESH_METHODS:
            roots.append(var)                   # d.copy()
            return None
        return True

    @staticmethod
    def _numpy_call(var, call, named, fn, roots):
        """A call of the numpy function ``named`` = (name, object) (``fn`` is what is called)."""
        name, obj = named
        if name is None or obj is None or fn is not obj:
            return True
        if name in _FRESH_NP:
            roots.append(var)
            return None
        if name in _VIEW_METHODS and call.args and not call.vararg:
            return call.args[0].name            # np.reshape(d, ...) aliases d
        return True

    # -- forward: does a fresh allocation escape? ----------------------------------------------

    def _index_uses(self):
        uses = {}

        def visit(body):
            for stmt in body:
                if type(stmt).__name__ == "Parfor" and hasattr(stmt, "loop_body"):
                    visit(stmt.init_block.body)
                    for blk in stmt.loop_body.values():
                        visit(blk.body)
                    continue
                for v in stmt.list_vars():
                    lst = uses.get(v.name)
                    if lst is None:
                        uses[v.name] = [stmt]
                    elif lst[-1] is not stmt:
                        lst.append(stmt)

        for blk in self.blocks.values():
            visit(blk.body)
        return uses

    def _escapes(self, root):
        """True unless every use of ``root`` and of everything that may alias it is known not
        to let the memory be seen elsewhere."""
        if self.uses is None:
            self.uses = self._index_uses()
        uses = self.uses
        seen = {root}
        work = [root]
        while work:
            if len(seen) > _BUDGET:
                return True
            v = work.pop()
            for stmt in uses.get(v, ()):
                out = self._forward(stmt, v)
                if out is True:
                    return True
                if out is not None and out not in seen and not self._scalar(out):
                    seen.add(out)
                    work.append(out)
        return False

    @staticmethod
    def _forward(stmt, v):
        """A use of ``v`` in ``stmt``: True (escapes), a variable that may alias ``v`` to follow,
        or None (harmless)."""
        kind = type(stmt)
        if kind is ir.Assign:
            t = stmt.target.name
            value = stmt.value
            if isinstance(value, ir.Var):
                return t if value.name == v else None
            if not isinstance(value, ir.Expr):
                return None if t == v else True    # ir.Yield, ...
            op = value.op
            if op in _THROUGH_VALUE or op in _ITERATION:
                return t if value.value.name == v else None
            if op == "getattr":
                return None if value.attr in _PLAIN_ATTRS else t
            if op == "inplace_binop":
                return t if value.lhs.name == v else None
            if op in ("binop", "unary", "arrayexpr", "pair_second"):
                return None
            if op == "call":
                if value.func.name == v:
                    return t                       # a method of the array: d.reshape(...)
                return None if all(x.name != v for x in value.list_vars()) else True
            if all(x.name != v for x in value.list_vars()):
                return None                        # v is only the target
            return True                            # build_tuple/list/set/map, phi, ...
        if kind is ir.SetItem or kind is ir.StaticSetItem:
            return True if stmt.value.name == v else None
        if kind is ir.SetAttr:
            return True if stmt.value.name == v else None
        if kind is ir.Del or kind is ir.DelItem or kind is ir.Branch or kind is ir.Print:
            return None
        return True                                # Return, Raise, StoreMap, EnterWith, ...


#: The analysis of the latest ``find_potential_aliases`` run (numba compiles under one lock). It
#: holds that function's IR until the next run replaces it.
_cache: list = [None]


def _analysis(func_ir, typemap):
    a = _cache[0]
    if a is None or a.defs is not func_ir._definitions or a.typemap is not typemap \
            or a.blocks is not func_ir.blocks:
        a = _Analysis(func_ir, typemap)
        _cache[0] = a
    return a


def _keep(name, typemap, func_ir, arg_aliases):
    if name in arg_aliases:
        return
    if _analysis(func_ir, typemap).may_alias(name):
        arg_aliases.add(name)


def _chain(prev, hook):
    if prev is None:
        return hook

    def chained(instr, args, typemap, func_ir, alias_map, arg_aliases):
        prev(instr, args, typemap, func_ir, alias_map, arg_aliases)
        hook(instr, args, typemap, func_ir, alias_map, arg_aliases)
    return chained


def _setitem_hook(instr, args, typemap, func_ir, alias_map, arg_aliases):
    if type(arg_aliases) is set:
        _keep(instr.target.name, typemap, func_ir, arg_aliases)


def _assign_hook(instr, args, typemap, func_ir, alias_map, arg_aliases):
    value = instr.value
    if type(value) is ir.Expr and value.op == "inplace_binop" and type(arg_aliases) is set:
        name = value.lhs.name
        if typemap is not None and isinstance(typemap.get(name), _SCALARS):
            return                             # i += 1
        _keep(name, typemap, func_ir, arg_aliases)


def install():
    """Register the hooks with numba (once; later calls do nothing)."""
    ext = ir_utils.alias_analysis_extensions
    for kind, hook in ((ir.SetItem, _setitem_hook), (ir.StaticSetItem, _setitem_hook),
                       (ir.Assign, _assign_hook)):
        prev = ext.get(kind)
        if prev is not None and getattr(prev, _MARK, False):
            continue
        fn = _chain(prev, hook)
        setattr(fn, _MARK, True)
        ext[kind] = fn
