"""Intra-function data flow: where frame memory goes and whether frames are ended.

Each scope (the module body and every function) is walked statement by statement with a
:class:`~.state.State`. Branches are walked separately and joined; loops are walked until their
state stops changing (at most three passes); ``return``/``raise``/``break``/``continue`` end a path.
Names bound to frame allocations are followed through assignments, tuple unpacking, views
(slices, record fields, attributes such as ``s.pos``, ``reshape``/``view``/``np.asarray``),
containers and closures, with NumPy's semantics: an augmented assignment (``x += v``) updates ``x``
in place (a list extends), a ufunc's ``out`` array is its result, elements of a numeric array and
anything computed from frame data (``v.copy()``, ``float(v[0])``, ``v + 1``) are new values.
A use of a name after its frame ended is reported once per statement, at its first use.

Codes emitted here: FA201-FA203 (thread boundaries), FA601-FA606 (lifetime), FA701-FA703 (async).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Sequence

from .calls import (CHECKPOINT_METHODS, CONTAINER_MUTATORS, FRAME_ALLOC_METHODS,
                    FRAME_CLOSE_METHODS, FRAME_OPEN_METHODS, NUMPY_POSITIONAL_OUT,
                    NUMPY_VIEW_FUNCS, OUT_METHODS, ROLLBACK_METHODS, SCOPE_WITH_METHODS,
                    VIEW_METHODS, META_ATTRS, frame_dtype_arg, is_constant_true,
                    is_frame_with_item, is_task_frame_with_item, is_view_index, method_call,
                    receiver_key, root_name, with_item_call)
from .context import LAYOUT_PREFIX, ModuleContext, value_kind
from .findings import Emitter
from .scope import FunctionNode, ScopeInfo
from .state import EMPTY, Origin, Ref, State, Taint, boxed, elements, merge, replace

__all__ = ["FlowChecker"]

_THREAD_FUNCS = frozenset({"threading.Thread", "threading.Timer", "_thread.start_new_thread",
                           "_thread.start_new", "Thread", "Timer"})
_EXECUTOR_METHODS = frozenset({"map", "starmap", "imap", "imap_unordered", "map_async",
                               "starmap_async", "apply", "apply_async"})
_PARTIAL_FUNCS = frozenset({"functools.partial", "partial"})
#: Built-ins that consume an iterator completely (``list(pool.map(...))`` waits for all results).
_CONSUMERS = frozenset({"list", "tuple", "set", "dict", "sorted", "sum", "min", "max", "any",
                        "all"})
_TRANSFER = "alloc.frame_box_for_transfer(arr)"
#: Functions whose job is to leave a frame open (FA606 does not report their exits).
_OPENER_NAMES = frozenset({"__enter__", "__aenter__", "setUp", "setup_method", "setup"})
_OPENER_PREFIXES = ("begin", "start", "open", "enter", "_begin", "_start", "_open", "_enter")


@dataclass(frozen=True)
class _At:
    """A position to report at when no node is at hand."""

    lineno: int
    col_offset: int


@dataclass
class _Loop:
    exit_base: int
    breaks: list[State] = field(default_factory=list)
    continues: list[State] = field(default_factory=list)


def _in_frame_guard(test: ast.expr) -> tuple[str, bool] | None:
    """``(receiver, negated)`` for ``if alloc.in_frame:`` / ``if not alloc.in_frame:``."""
    negated = False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, negated = test.operand, True
    if isinstance(test, ast.Attribute) and test.attr == "in_frame":
        return receiver_key(test.value), negated
    return None


def _is_map_call(node: ast.expr) -> bool:
    mc = method_call(node)
    return bool(mc) and mc[1] in ("map", "starmap", "imap", "imap_unordered")  # type: ignore[index]


def _value_names(expr: ast.expr) -> list[ast.Name]:
    """Names whose value (or a view of it) an expression passes on: ``a``, ``(a, b)``, ``a[1:]``,
    ``s.pos`` - not names only used to compute something else, such as ``len(a)``."""
    if isinstance(expr, ast.Name):
        return [expr]
    if isinstance(expr, (ast.Attribute, ast.Subscript, ast.Starred)):
        return _value_names(expr.value)
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        return [n for e in expr.elts for n in _value_names(e)]
    if isinstance(expr, ast.Dict):
        return [n for e in expr.values for n in _value_names(e)]
    if isinstance(expr, ast.IfExp):
        return _value_names(expr.body) + _value_names(expr.orelse)
    if isinstance(expr, ast.BoolOp):
        return [n for e in expr.values for n in _value_names(e)]
    return []


def _no_closure(taint: Taint) -> Taint:
    return frozenset(r for r in taint if not r.closure)


def _as_closure(taint: Taint) -> Taint:
    return frozenset(replace(r, closure=True) for r in taint)


def _describe(origin: Origin) -> str:
    return f"`{origin.call}(...)` at line {origin.line}"


def _first(refs: Taint) -> Ref:
    """The earliest reference, chosen deterministically (messages must not vary between runs)."""
    return min(refs, key=lambda r: (r.origin.line, r.origin.col, r.closure, r.dead or "",
                                    r.crossed or 0, r.items, r.origin.call, r.origin.receiver))


def _is_field_index(index: ast.expr) -> bool:
    """``v["name"]``: a record field, or a dict entry."""
    elts = index.elts if isinstance(index, ast.Tuple) else [index]
    return any(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elts)


def _is_mask_index(index: ast.expr) -> bool:
    """``v[x > 0]``, ``v[~m]``, ``v[m1 & m2]``, ``v[[1, 3]]``: boolean or fancy indexing, which
    copies."""
    if isinstance(index, (ast.Compare, ast.List)):
        return True
    if isinstance(index, ast.UnaryOp):
        return isinstance(index.op, ast.Invert)
    return isinstance(index, ast.BinOp) and isinstance(index.op, (ast.BitAnd, ast.BitOr,
                                                                  ast.BitXor))


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


_EXTENDS = (ast.List, ast.Tuple, ast.ListComp, ast.GeneratorExp)
#: Array attributes held by the array object, not by the (frame) memory it views.
_OBJECT_ATTRS = frozenset({"shape", "dtype", "ndim", "size", "nbytes", "itemsize", "strides"})


class FlowChecker:
    """Runs the flow walk over every scope of a module."""

    def __init__(self, ctx: ModuleContext, out: Emitter) -> None:
        self.ctx = ctx
        self.out = out

    def run(self) -> None:
        """Analyse the module body and every function in it."""
        _ScopeWalker(self, ScopeInfo.build(self.ctx.tree, self.ctx)).walk()
        for node in ast.walk(self.ctx.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                _ScopeWalker(self, ScopeInfo.build(node, self.ctx)).walk()


class _ScopeWalker:
    """The walk of one scope."""

    def __init__(self, checker: FlowChecker, scope: ScopeInfo) -> None:
        self.ctx = checker.ctx
        self.out = checker.out
        self.scope = scope
        self.loops: list[_Loop] = []
        # frames that a path leaving a block closes on the way out: ("with"|"finally", keys)
        self.exit_stack: list[set[str]] = []
        self.finally_closers: list[set[str]] = []
        self.in_handled_try = 0
        self.waited: set[int] = set()  # executor calls whose results are collected at once
        self.returned: set[int] = set()  # Name nodes whose value a `return` hands out
        # uses of dead frame data in a `return` value, reported unless the return reports FA604
        self.deferred: list[tuple[ast.Name, Taint]] = []
        # receivers (and `as` names) of the `async with x.task_frame():` blocks around the
        # statement being walked: their frame belongs to this task, not to the thread
        self.task_frames: list[str] = []
        self.where = "the module" if scope.is_module else "the function"
        name = "" if scope.is_module else scope.node.name  # type: ignore[union-attr]
        self.opener = name in _OPENER_NAMES or name.startswith(_OPENER_PREFIXES)

    # -- driver ---------------------------------------------------------------------------------
    def walk(self) -> None:
        """Walk the scope body; report frames still open at its end."""
        end = self.block(self.scope.node.body, State())
        if end is not None:
            last = self.scope.node.body[-1] if self.scope.node.body else None
            line = getattr(last, "end_lineno", 1) or 1
            self.leaks(end, f"reaches the end of {self.where} (line {line})")

    def block(self, stmts: list[ast.stmt], st: State | None) -> State | None:
        """Walk statements in order; None once no path continues."""
        for stmt in stmts:
            if st is None:
                return None
            st = self.stmt(stmt, st)
        return st

    # -- statements -----------------------------------------------------------------------------
    def stmt(self, node: ast.stmt, st: State) -> State | None:
        handler = getattr(self, f"_s_{type(node).__name__}", None)
        if handler is not None:
            return handler(node, st)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.ev(child, st)
        return st

    def _s_Expr(self, node: ast.Expr, st: State) -> State:
        self.ev(node.value, st)
        return st

    def _s_Assign(self, node: ast.Assign, st: State) -> State:
        value = node.value
        if (len(node.targets) == 1 and isinstance(node.targets[0], (ast.Tuple, ast.List))
                and isinstance(value, (ast.Tuple, ast.List))
                and len(value.elts) == len(node.targets[0].elts)
                and not any(isinstance(e, ast.Starred)
                            for e in (*value.elts, *node.targets[0].elts))):
            taints = [self.ev(e, st) for e in value.elts]
            for target, elt, taint in zip(node.targets[0].elts, value.elts, taints):
                self.assign(target, taint, st, elt)
            return st
        taint = self.ev(value, st)
        for target in node.targets:
            self.assign(target, taint, st, value)
        mc = method_call(value)
        if mc and mc[1] in CHECKPOINT_METHODS:  # cp = alloc.frame_checkpoint()
            for target in node.targets:
                if isinstance(target, ast.Name):
                    st.cps[target.id] = frozenset({(value.lineno, value.col_offset)})
        return st

    def _s_AnnAssign(self, node: ast.AnnAssign, st: State) -> State:
        if node.value is not None:
            self.assign(node.target, self.ev(node.value, st), st, node.value)
        return st

    def _s_AugAssign(self, node: ast.AugAssign, st: State) -> State:
        """``x += v`` updates an array in place (``x`` keeps what it referred to) and computes a
        new value from numbers; only a list (or tuple) grows by ``v``'s elements."""
        taint = self.ev(node.value, st)
        target = node.target
        if isinstance(target, ast.Name):
            self.check_load(target, st)
            if taint and self.extends(target, node.value, st):
                self.store_name(target, st.names.get(target.id, EMPTY) | taint, st, None,
                                keep_kind=True)
        elif isinstance(target, ast.Attribute):
            self.ev(target.value, st)
            if taint and self.extends(target, node.value, st):
                self.store_attr(target, taint, st)
        else:
            self.ev(target, st)
            if (taint and isinstance(target, ast.Subscript) and isinstance(node.value, _EXTENDS)
                    and self.kind_of(target.value, st) == "container"):
                self.store_into(target.value, taint, target, st)
        return st

    def extends(self, target: ast.Name | ast.Attribute, value: ast.expr, st: State) -> bool:
        """Whether ``target += value`` adds ``value``'s items to a container rather than
        computing into an array or a number: the value is a list/tuple display or
        comprehension, or the target is known to hold a container."""
        if isinstance(value, _EXTENDS) or self.kind_of(target, st) == "container":
            return True
        if isinstance(target, ast.Name):
            return any(r.items and not r.closure for r in st.names.get(target.id, EMPTY))
        return False

    def _s_Delete(self, node: ast.Delete, st: State) -> State:
        for target in node.targets:
            if isinstance(target, ast.Name):
                st.names.pop(target.id, None)
                st.kinds.pop(target.id, None)
            else:
                self.ev(target, st)
        return st

    def _s_Import(self, node: ast.Import | ast.ImportFrom, st: State) -> State:
        for alias in node.names:
            name = (alias.asname or alias.name).split(".")[0]
            st.names.pop(name, None)
            st.kinds.pop(name, None)
        return st

    _s_ImportFrom = _s_Import

    def _s_FunctionDef(self, node: FunctionNode, st: State) -> State:
        for expr in (*node.decorator_list, *node.args.defaults,
                     *[d for d in node.args.kw_defaults if d is not None]):
            self.ev(expr, st)
        bound = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        bound |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                  and isinstance(n.ctx, ast.Store)}
        st.bind(node.name, self.captured(node.body, bound, st))
        st.kinds.pop(node.name, None)
        return st

    _s_AsyncFunctionDef = _s_FunctionDef

    def _s_ClassDef(self, node: ast.ClassDef, st: State) -> State:
        for expr in (*node.decorator_list, *node.bases):
            self.ev(expr, st)
        st.names.pop(node.name, None)
        return st

    def _s_If(self, node: ast.If, st: State) -> State | None:
        self.ev(node.test, st)
        body_in, else_in = st.copy(), st
        guard = _in_frame_guard(node.test)
        if guard is not None:  # `if not alloc.in_frame:` - the frame is not open in that branch
            key, negated = guard
            (body_in if negated else else_in).open.pop(key, None)
        body = self.block(node.body, body_in)
        orelse = self.block(node.orelse, else_in) if node.orelse else else_in
        return merge(body, orelse)

    def _s_Match(self, node: ast.Match, st: State) -> State | None:
        self.ev(node.subject, st)
        last = node.cases[-1].pattern if node.cases else None
        irrefutable = isinstance(last, ast.MatchAs) and last.pattern is None
        outs: list[State | None] = [] if irrefutable else [st]
        for case in node.cases:
            branch = st.copy()
            if case.guard is not None:
                self.ev(case.guard, branch)
            outs.append(self.block(case.body, branch))
        return merge(*outs)

    def _s_Return(self, node: ast.Return, st: State) -> None:
        if node.value is not None:
            self.returned = {id(n) for n in _value_names(node.value)}
            self.deferred = []
            try:
                taint = self.ev(node.value, st)
            finally:
                self.returned = set()
            local = [r for r in taint if r.origin.local_frame]
            handed_out = {r.origin for r in local}
            for name, dead in self.deferred:  # `return a[0]`: a number read from recycled memory
                if not any(r.origin in handed_out for r in dead):
                    self.report_dead(name, dead)
            self.deferred = []
            plain = [r for r in local if not r.closure]
            if plain:
                o = _first(frozenset(plain)).origin
                self.out.emit("FA604", node.value,
                              f"returns frame memory from {_describe(o)}, but this function opened "
                              "that frame, so the caller gets memory that is recycled at "
                              "end_frame(); return a copy (`.copy()`) or pool/heap memory, or let "
                              "the caller open the frame")
            elif local:
                o = _first(frozenset(local)).origin
                self.out.emit("FA603", node.value,
                              f"returns a closure that captures frame memory from {_describe(o)}, "
                              "and the frame ends in this function; capture a copy instead")
        self.leaks(st, f"returns at line {node.lineno}")
        return None

    def _s_Raise(self, node: ast.Raise, st: State) -> None:
        for child in (node.exc, node.cause):
            if child is not None:
                self.ev(child, st)
        if not self.in_handled_try:
            self.leaks(st, f"raises at line {node.lineno}")
        return None

    def _s_Break(self, node: ast.Break, st: State) -> None:
        if self.loops:
            self.loops[-1].breaks.append(self.leaving_loop(st))
        return None

    def _s_Continue(self, node: ast.Continue, st: State) -> None:
        if self.loops:
            self.loops[-1].continues.append(self.leaving_loop(st))
        return None

    def leaving_loop(self, st: State) -> State:
        """The state a break/continue carries: frames of with/finally blocks it leaves close."""
        st = st.copy()
        for keys in self.exit_stack[self.loops[-1].exit_base:]:
            for key in keys:
                self.close_frame(key, "a block left by break/continue", st)
        return st

    def _s_While(self, node: ast.While, st: State) -> State | None:
        return self.loop(node, st)

    def _s_For(self, node: ast.For | ast.AsyncFor, st: State) -> State | None:
        if _is_map_call(node.iter):
            self.waited.add(id(node.iter))
        self.ev(node.iter, st)
        return self.loop(node, st)

    _s_AsyncFor = _s_For

    def loop(self, node: ast.While | ast.For | ast.AsyncFor, st: State) -> State | None:
        """Walk a loop until its head state is stable; join the exits."""
        ctx = _Loop(exit_base=len(self.exit_stack))
        self.loops.append(ctx)
        head = st
        for _ in range(3):
            ctx.breaks.clear()
            ctx.continues.clear()
            cur = head.copy()
            if isinstance(node, ast.While):
                self.ev(node.test, cur)
            else:
                self.assign(node.target, EMPTY, cur, None)
                if isinstance(node, ast.AsyncFor):
                    self.on_await(node, cur)
            out = self.block(node.body, cur)
            new_head = merge(st, out, *ctx.continues)
            assert new_head is not None
            if new_head == head:
                break
            head = new_head
        self.loops.pop()
        exits: list[State | None] = list(ctx.breaks)
        if not (isinstance(node, ast.While) and is_constant_true(node.test)):
            done = head.copy()
            exits.append(self.block(node.orelse, done) if node.orelse else done)
        return merge(*exits)

    def _s_With(self, node: ast.With | ast.AsyncWith, st: State) -> State | None:
        frames: list[str] = []
        tasks: list[str] = []
        scopes: list[tuple[str, str, tuple[int, int]]] = []  # (receiver, method, site)
        is_async = isinstance(node, ast.AsyncWith)
        for item in node.items:
            key = is_frame_with_item(item)
            task = is_task_frame_with_item(item)
            scope = with_item_call(item, SCOPE_WITH_METHODS)
            taint = self.ev(item.context_expr, st)
            if key is not None:
                st.open[key] = st.open.get(key, frozenset()) | {None}
                frames.append(key)
            elif item.optional_vars is not None:
                self.assign(item.optional_vars, taint, st, item.context_expr)
            if task is not None:  # the block's value is the allocator itself
                tasks.append(task)
                if isinstance(item.optional_vars, ast.Name):
                    tasks.append(item.optional_vars.id)
            if scope is not None:
                site = (item.context_expr.lineno, item.context_expr.col_offset)
                meth = method_call(item.context_expr)[1]  # type: ignore[index]
                scopes.append((scope, meth, site))
                st.active[scope] = st.active.get(scope, frozenset()) | {site}
                if isinstance(item.optional_vars, ast.Name):  # the guard, for its commit()
                    st.cps[item.optional_vars.id] = frozenset({site})
            if is_async:
                self.on_await(node, st)
        self.exit_stack.append(set(frames))
        self.task_frames.extend(tasks)
        try:
            out = self.block(node.body, st)
        finally:
            self.exit_stack.pop()
            del self.task_frames[len(self.task_frames) - len(tasks):]
        if out is None:
            return None
        for key, meth, site in reversed(scopes):
            if meth == "checkpoint_guard" and site in out.committed:
                out.active[key] = out.active.get(key, frozenset()) - {site}
                continue  # commit() may have kept the allocations
            how = " without `commit()`" if meth == "checkpoint_guard" else ""
            why = f"the `with {key}.{meth}():` block that ends at line {node.end_lineno}{how}"
            self.rollback(key, frozenset({site}), why, out)
        for key in reversed(frames):
            self.close_frame(key, f"the `with {key}.frame():` block that ends at line "
                                  f"{node.end_lineno}", out)
        if tasks:
            self.close_task_frame(frozenset(tasks), f"the `async with {tasks[0]}.task_frame():` "
                                                    f"block that ends at line {node.end_lineno}",
                                  out)
        if is_async:
            self.on_await(node, out)
        return out

    _s_AsyncWith = _s_With

    def _s_Try(self, node: ast.Try, st: State) -> State | None:
        closers = set()
        for sub in ast.walk(ast.Module(body=node.finalbody, type_ignores=[])):
            mc = method_call(sub)
            if mc and mc[1] in FRAME_CLOSE_METHODS:
                closers.add(receiver_key(mc[0]))
        self.finally_closers.append(closers)
        self.exit_stack.append(closers)
        handled = bool(node.handlers)
        self.in_handled_try += handled
        snapshots = [st.copy()]
        cur: State | None = st
        try:
            for stmt in node.body:
                assert cur is not None, "the loop stops at a statement that ends the flow"
                cur = self.stmt(stmt, cur)
                if cur is None:
                    break
                snapshots.append(cur.copy())
        finally:
            self.in_handled_try -= handled
        outs: list[State | None] = []
        if cur is not None:
            outs.append(self.block(node.orelse, cur) if node.orelse else cur)
        handler_in = merge(*snapshots)
        assert handler_in is not None
        for handler in node.handlers:
            branch = handler_in.copy()
            if handler.type is not None:
                self.ev(handler.type, branch)
            if handler.name:
                branch.names.pop(handler.name, None)
            outs.append(self.block(handler.body, branch))
        self.finally_closers.pop()
        self.exit_stack.pop()
        after = merge(*outs)
        if not node.finalbody:
            return after
        final_in = after if after is not None else handler_in
        final_out = self.block(node.finalbody, final_in.copy())
        if final_out is None or after is None:
            return None
        for key in closers:  # an end_frame() in `finally:` matches, even a guarded one
            if key in final_out.open:
                self.close_frame(key, f"the `finally:` block ending at line {node.end_lineno}",
                                 final_out)
        return final_out

    _s_TryStar = _s_Try

    # -- frames ---------------------------------------------------------------------------------
    def open_frame(self, key: str, node: ast.Call, st: State) -> None:
        """``key.begin_frame()``: a begin while this function's earlier begin may be open is an
        unmatched frame."""
        site = (node.lineno, node.col_offset)
        for prev in sorted(s for s in st.open.get(key, frozenset()) if s is not None):
            again = (" again on the next loop iteration" if prev == site
                     else f" at line {node.lineno}")
            self.report_leak(key, prev, f"`{key}.begin_frame()` runs{again} while it may still be "
                                        "open", exit=False)
        st.open[key] = frozenset({site})

    def close_frame(self, key: str, why: str, st: State) -> None:
        """``key.end_frame()`` or the end of ``with key.frame():``: the frame data allocated from
        ``key`` dies; a frame driver (``UnifiedAllocator``) ends every allocator's data."""
        st.open.pop(key, None)
        st.active.pop(key, None)  # a frame's checkpoints end with it
        ends_all = self.kind_of_key(key, st) == "driver"

        def kill(ref: Ref) -> Ref:
            if ref.dead is None and (ends_all or ref.origin.receiver in (key, "*")):
                return replace(ref, dead=why)
            return ref
        st.update_refs(kill)

    def rollback(self, key: str, sites: frozenset[tuple[int, int]], why: str, st: State) -> None:
        """A rollback of ``key``'s frame to the checkpoints at ``sites`` (``rollback_to(cp)``,
        ``scope_end(s)``, the end of ``with key.scope():``): what was allocated from ``key``
        after them dies; the frame and what came before stay."""
        left = st.active.get(key, frozenset()) - sites
        if left:
            st.active[key] = left
        else:
            st.active.pop(key, None)

        def kill(ref: Ref) -> Ref:
            if ref.dead is None and ref.origin.receiver == key and ref.origin.under & sites:
                return replace(ref, dead=why)
            return ref
        st.update_refs(kill)

    def close_task_frame(self, keys: frozenset[str], why: str, st: State) -> None:
        """The end of ``async with key.task_frame():``: the task's frame data dies (the thread's
        frames of the same allocator, if any, do not end)."""
        for key in keys:
            st.active.pop(key, None)

        def kill(ref: Ref) -> Ref:
            if ref.dead is None and ref.origin.task and ref.origin.receiver in keys:
                return replace(ref, dead=why)
            return ref
        st.update_refs(kill)

    def leaks(self, st: State, how: str) -> None:
        """Report begin sites still open when a path leaves the scope."""
        covered = set().union(*self.finally_closers) if self.finally_closers else set()
        for key, sites in st.open.items():
            if key in covered:
                continue
            for site in sorted(s for s in sites if s is not None):
                self.report_leak(key, site, f"{self.where} {how}")

    def report_leak(self, key: str, site: tuple[int, int], what: str, exit: bool = True) -> None:
        """FA606 at a begin site, unless this scope deliberately leaves the frame open when it
        exits: it is itself a frame opener (``begin_frame``, ``__enter__``, ``begin_*``,
        ``start_*``), or nothing here ends the frame after the begin and another place in the
        module ends it (a begin()/finish() pair of methods, or an end-then-begin rollover)."""
        if exit:
            if self.opener:
                return
            later_close = any(pos > site for pos in self.scope.close_sites.get(key, ()))
            if key in self.ctx.closers and not later_close:
                return
        self.out.emit("FA606", _At(*site),
                      f"`{key}.begin_frame()` is not matched by `end_frame()` on every path: "
                      f"{what} without ending the frame; use `with {key}.frame():` or call "
                      f"`{key}.end_frame()` in a `finally:` block")

    def on_await(self, node: ast.stmt | ast.expr, st: State) -> None:
        """An ``await`` point: open frames (FA703) and data held across it (FA702 on use)."""
        if not self.scope.is_async:
            return
        for key, sites in sorted(st.open.items()):
            opened = ("inside `with " + key + ".frame():`" if None in sites
                      else f"while `{key}.begin_frame()` from line "
                           f"{min(s for s in sites if s)[0]} is open")
            self.out.emit("FA703", node,
                          f"`await` {opened}: other tasks on this thread allocate into and may end "
                          "the same frame meanwhile; end the frame before awaiting, or use "
                          f"`async with {key}.task_frame():` (a frame of this task's own)")
            break
        st.update_refs(lambda r: r if r.crossed is not None or r.origin.task
                       else replace(r, crossed=node.lineno))

    # -- stores ---------------------------------------------------------------------------------
    def assign(self, target: ast.expr, taint: Taint, st: State, value: ast.expr | None) -> None:
        """Bind ``target`` to a value with ``taint``; stores into long-lived places are escapes."""
        if isinstance(target, ast.Name):
            self.store_name(target, taint, st, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            item = elements(taint)  # unpacking reads the elements
            for elt in target.elts:
                if isinstance(elt, ast.Starred):
                    self.assign(elt.value, boxed(item), st, None)
                else:
                    self.assign(elt, item, st, None)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, taint, st, None)
        elif isinstance(target, ast.Attribute):
            self.ev(target.value, st)
            self.store_attr(target, taint, st)
        elif isinstance(target, ast.Subscript):
            self.ev(target.value, st)
            self.ev(target.slice, st)
            if taint and self.kind_of(target.value, st) == "container":
                self.store_into(target.value, taint, target, st)

    def store_name(self, target: ast.Name, taint: Taint, st: State, value: ast.expr | None,
                   keep_kind: bool = False) -> None:
        name = target.id
        if taint and not self.scope.is_module and (
                name in self.scope.declared_global or name in self.scope.declared_nonlocal):
            kind = "global" if name in self.scope.declared_global else "nonlocal"
            self.escape(taint, target, f"{kind} variable `{name}`", "FA602")
        st.bind(name, taint)
        st.cps.pop(name, None)
        if not keep_kind:
            kind_v = value_kind(value)
            if kind_v:
                st.kinds[name] = kind_v
            else:
                st.kinds.pop(name, None)

    def store_attr(self, target: ast.Attribute, taint: Taint, st: State) -> None:
        if not taint:
            return
        root = root_name(target)
        if root is None or st.names.get(root):
            return  # writing into frame data itself, or an unknown object
        where = self.scope.outliving(root, self.ctx)
        if where is None or (where == "param" and not self.scope.opens):
            return
        self.escape(taint, target, f"`{ast.unparse(target)}`", "FA601")

    def store_into(self, container: ast.expr, taint: Taint, node: ast.AST, st: State) -> None:
        """Frame data goes into ``container`` (append, ``c[k] = v``, ...)."""
        root = root_name(container)
        if root is None:
            return
        where = self.scope.outliving(root, self.ctx)
        if where is None:
            if isinstance(container, ast.Name):
                st.names[root] = st.names.get(root, EMPTY) | boxed(taint)
            return
        if where == "param" and not self.scope.opens:
            return
        code = "FA602" if where == "global" else "FA601"
        label = "module-level" if where == "global" else "long-lived"
        self.escape(taint, node, f"the {label} container `{ast.unparse(container)}`", code)

    def escape(self, taint: Taint, node: ast.AST, place: str, code: str) -> None:
        plain = _no_closure(taint)
        if plain:
            o = _first(plain).origin
            self.out.emit(code, node,
                          f"frame memory from {_describe(o)} is stored in {place}, which outlives "
                          "the frame: it is recycled at end_frame(); store a copy (`.copy()`) or "
                          "allocate it with pool_alloc/heap_array")
        else:
            o = _first(taint).origin
            self.out.emit("FA603", node,
                          f"a closure capturing frame memory from {_describe(o)} is stored in "
                          f"{place}, which outlives the frame; capture a copy (`.copy()`) instead")

    # -- loads ----------------------------------------------------------------------------------
    def check_load(self, node: ast.Name, st: State) -> None:
        """A use of ``node``: after its frame ended (FA605/FA603) or across an await (FA702).
        One problem, one finding: each is reported once per statement and name, at the first
        use in the statement (unless the emitter shows every use)."""
        taint = st.names.get(node.id)
        if not taint or self.reads_metadata(node):
            return
        dead = frozenset(r for r in taint if r.dead is not None)
        if id(node) in self.returned:  # reported as FA604/FA603 by the return itself, if any
            local = frozenset(r for r in dead if r.origin.local_frame)
            if local:
                self.deferred.append((node, local))
            dead -= local
        if dead:
            self.report_dead(node, dead)
        if self.scope.is_async:
            crossed = frozenset(r for r in taint if r.crossed is not None)
            if crossed:
                ref = _first(crossed)
                self.out.emit("FA702", node,
                              f"`{node.id}` refers to frame memory from {_describe(ref.origin)} "
                              f"and is used after the `await` at line {ref.crossed}; "
                              "other tasks may have ended the frame meanwhile: finish with it "
                              "before awaiting, copy it, or allocate it inside `async with "
                              f"{ref.origin.receiver.strip('*') or 'alloc'}.task_frame():`",
                              self.group_of(node))

    def report_dead(self, node: ast.Name, dead: Taint) -> None:
        """FA605 (FA603 for a closure): ``node`` is used after the frame of ``dead`` ended."""
        ref = _first(dead)
        why = ref.dead
        if ref.closure:
            self.out.emit("FA603", node,
                          f"`{node.id}` is a closure capturing frame memory from "
                          f"{_describe(ref.origin)} and is used after {why}; call it before "
                          "the frame ends or capture a copy", self.group_of(node))
        else:
            self.out.emit("FA605", node,
                          f"`{node.id}` refers to frame memory from {_describe(ref.origin)} "
                          f"and is used after {why}; finish with it before then or keep a copy "
                          "(`.copy()`)", self.group_of(node))

    def group_of(self, node: ast.Name) -> tuple[int, str]:
        """Uses of one name in one statement are one problem."""
        return id(self.statement_of(node)), node.id

    def reads_metadata(self, node: ast.Name) -> bool:
        """``v.shape``, ``v.dtype``, ``v is None``: what the array object itself holds, which stays
        valid after the frame ends (only the data is recycled)."""
        parent = self.ctx.parents.get(node)
        if isinstance(parent, ast.Attribute):
            return parent.value is node and parent.attr in _OBJECT_ATTRS
        if isinstance(parent, ast.Compare) and len(parent.ops) == 1:
            other = parent.comparators[0] if parent.left is node else parent.left
            return (isinstance(parent.ops[0], (ast.Is, ast.IsNot))
                    and isinstance(other, ast.Constant) and other.value is None)
        return False

    def statement_of(self, node: ast.AST) -> ast.AST:
        """The innermost statement containing ``node`` (the node itself when there is none)."""
        cur: ast.AST | None = node
        while cur is not None and not isinstance(cur, ast.stmt):
            cur = self.ctx.parents.get(cur)
        return cur if cur is not None else node

    def captured(self, body: list[ast.stmt] | ast.expr, bound: set[str], st: State) -> Taint:
        """Closure taint of the frame data a nested function or lambda reads from this scope."""
        nodes = body if isinstance(body, list) else [body]
        refs: set[Ref] = set()
        for stmt in nodes:
            for sub in ast.walk(stmt):
                if (isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)
                        and sub.id not in bound):
                    refs |= st.names.get(sub.id, EMPTY)
        return _as_closure(frozenset(refs))

    def kind_of_key(self, key: str, st: State) -> str | None:
        """:meth:`kind_of` for a receiver given as its text key."""
        try:
            node = ast.parse(key, mode="eval").body
        except SyntaxError:
            return None
        return self.kind_of(node, st)

    def kind_of(self, node: ast.expr, st: State) -> str | None:
        """What a receiver holds: a local, module-level or ``self`` attribute binding."""
        if isinstance(node, ast.Name):
            if node.id in st.kinds:
                return st.kinds[node.id]
            if node.id not in self.scope.local_names or self.scope.is_module:
                return self.ctx.module_kinds.get(node.id)
            return None
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == self.scope.self_name and self.scope.cls is not None):
            return self.ctx.class_attr_kinds.get(self.scope.cls, {}).get(node.attr)
        return None

    # -- expressions ----------------------------------------------------------------------------
    def ev(self, node: ast.AST | None, st: State) -> Taint:
        """Evaluate ``node`` for its effects; return what frame memory its value may refer to."""
        if node is None:
            return EMPTY
        handler = getattr(self, f"_e_{type(node).__name__}", None)
        if handler is not None:
            return handler(node, st)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.expr_context, ast.operator, ast.boolop, ast.cmpop,
                                      ast.unaryop)):
                self.ev(child, st)
        return EMPTY

    def _e_Name(self, node: ast.Name, st: State) -> Taint:
        if isinstance(node.ctx, ast.Load):
            self.check_load(node, st)
            return st.names.get(node.id, EMPTY)
        return EMPTY

    def _e_Attribute(self, node: ast.Attribute, st: State) -> Taint:
        taint = self.ev(node.value, st)
        if not taint or node.attr in META_ATTRS:
            return EMPTY
        return _no_closure(taint)

    def _e_Subscript(self, node: ast.Subscript, st: State) -> Taint:
        taint = self.ev(node.value, st)
        self.ev(node.slice, st)
        if _is_field_index(node.slice):  # a record field (a view) or a dict entry
            return frozenset(replace(r, items=False) for r in _no_closure(taint))
        if is_view_index(node.slice):
            return _no_closure(taint)
        if _is_mask_index(node.slice):
            return EMPTY  # a copy
        return elements(taint)  # an element: a number, unless a container or record array

    def _e_Starred(self, node: ast.Starred, st: State) -> Taint:
        return self.ev(node.value, st)

    def _union(self, nodes: Sequence[ast.expr | None], st: State) -> Taint:
        taint = EMPTY
        for n in nodes:
            taint |= self.ev(n, st)
        return taint

    def _e_Tuple(self, node: ast.Tuple | ast.List | ast.Set, st: State) -> Taint:
        return boxed(self._union(node.elts, st))

    _e_List = _e_Set = _e_Tuple

    def _e_Dict(self, node: ast.Dict, st: State) -> Taint:
        self._union(list(node.keys), st)
        return boxed(self._union(node.values, st))

    def _e_BoolOp(self, node: ast.BoolOp, st: State) -> Taint:
        return self._union(node.values, st)

    def _e_IfExp(self, node: ast.IfExp, st: State) -> Taint:
        self.ev(node.test, st)
        return self.ev(node.body, st) | self.ev(node.orelse, st)

    def _e_NamedExpr(self, node: ast.NamedExpr, st: State) -> Taint:
        taint = self.ev(node.value, st)
        self.assign(node.target, taint, st, node.value)
        return taint

    def _e_Lambda(self, node: ast.Lambda, st: State) -> Taint:
        self._union([*node.args.defaults, *node.args.kw_defaults], st)
        bound = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        return self.captured(node.body, bound, st)

    def _e_Await(self, node: ast.Await, st: State) -> Taint:
        self.ev(node.value, st)
        self.on_await(node, st)
        return EMPTY

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                       st: State) -> Taint:
        """Comprehension variables shadow outer names only inside it; effects (allocations,
        frame ends) stay in ``st``."""
        shadowed: dict[str, Taint | None] = {}
        try:
            for gen in node.generators:
                self.ev(gen.iter, st)
                for sub in ast.walk(gen.target):
                    if isinstance(sub, ast.Name):
                        shadowed.setdefault(sub.id, st.names.get(sub.id))
                        st.names.pop(sub.id, None)
                if gen.is_async:
                    self.on_await(node, st)
                self._union(list(gen.ifs), st)
            if isinstance(node, ast.DictComp):
                return boxed(self.ev(node.key, st) | self.ev(node.value, st))
            return boxed(self.ev(node.elt, st))
        finally:
            for name, taint in shadowed.items():
                if taint is None:
                    st.names.pop(name, None)
                else:
                    st.names[name] = taint

    _e_ListComp = _e_SetComp = _e_GeneratorExp = _e_DictComp = _comprehension

    def _e_Call(self, node: ast.Call, st: State) -> Taint:
        self.mark_waited(node)
        mc = method_call(node)
        qual = self.ctx.qualname(node.func)
        recv_taint = self.ev(mc[0], st) if mc else self.ev(node.func, st)
        arg_taints = [self.ev(a, st) for a in node.args]
        kw_taints = [self.ev(k.value, st) for k in node.keywords]
        every = frozenset().union(*arg_taints, *kw_taints)
        if qual is not None and qual.startswith(("numpy.", "np.")):
            # a NumPy function (`np.append`, `np.reshape`), not a method of an array or list
            return self.numpy_call(node, qual, arg_taints, kw_taints)
        if mc:
            result = self._method(node, mc[0], mc[1], recv_taint, arg_taints, every, st)
            if result is not None:
                return result
            if mc[1] in OUT_METHODS:  # x.sum(axis=0, out=y) returns y
                return _no_closure(self.out_array(node, arg_taints, kw_taints, None) or EMPTY)
            if mc[1] == "astype" and _is_false(_keyword(node, "copy")):
                return _no_closure(recv_taint)
        if qual is None:
            return EMPTY
        if qual in _PARTIAL_FUNCS:
            return _as_closure(every)
        if qual in _THREAD_FUNCS and every:
            self.sink("FA201", node, every, f"`{ast.unparse(node.func)}(...)`")
        elif qual == "asyncio.to_thread" and every:
            self.sink("FA202", node, every, "`asyncio.to_thread(...)`")
        elif qual == "setattr" and len(node.args) == 3 and arg_taints[2]:
            root = root_name(node.args[0])
            where = self.scope.outliving(root, self.ctx) if root else None
            if where is not None and not st.names.get(root or ""):
                if where != "param" or self.scope.opens:
                    self.escape(arg_taints[2], node, f"an attribute of `{root}` (setattr)",
                                "FA601")
        return EMPTY

    def _method(self, node: ast.Call, recv: ast.expr, meth: str, recv_taint: Taint,
                arg_taints: list[Taint], every: Taint, st: State) -> Taint | None:
        """Effects and value of ``recv.meth(...)``; None to fall back to the generic rules."""
        key = receiver_key(recv)
        if meth in FRAME_OPEN_METHODS:
            self.open_frame(key, node, st)
            return EMPTY
        if meth in FRAME_CLOSE_METHODS:
            self.close_frame(key, f"`{key}.{meth}()` at line {node.lineno}", st)
            return EMPTY
        if meth in CHECKPOINT_METHODS:
            st.active[key] = st.active.get(key, frozenset()) | {(node.lineno, node.col_offset)}
            return EMPTY
        if meth in ROLLBACK_METHODS:
            arg = node.args[0] if node.args else _keyword(node, "cp")
            if isinstance(arg, ast.Name) and arg.id in st.cps:
                self.rollback(key, st.cps[arg.id], f"`{key}.{meth}({arg.id})` at line "
                                                   f"{node.lineno}", st)
            return EMPTY
        if meth == "commit" and isinstance(recv, ast.Name) and recv.id in st.cps:
            st.committed |= st.cps[recv.id]  # a checkpoint guard keeps its allocations
            return EMPTY
        if meth in FRAME_ALLOC_METHODS:
            records = self.ctx.is_record_dtype(frame_dtype_arg(node, meth))
            return self.new_origin(node, key, f"{key}.{meth}", st, items=records)
        if meth in ("alloc", "try_alloc"):
            kind = self.kind_of(recv, st)
            if kind and kind.startswith(LAYOUT_PREFIX):
                return self.new_origin(node, kind[len(LAYOUT_PREFIX):], f"{key}.{meth}", st)
        if meth == "frame_box_for_transfer":
            return EMPTY
        if meth in VIEW_METHODS:
            return _no_closure(recv_taint)
        if meth in CONTAINER_MUTATORS and every:
            self.store_into(recv, every, node, st)
            return EMPTY
        if id(node) in self.waited:
            return None  # the results are collected right here, while the frame is open
        if meth == "submit" and every:
            self.sink("FA202", node, every, f"`{key}.submit(...)`")
            return EMPTY
        if meth == "run_in_executor" and every:
            self.sink("FA202", node, every, f"`{key}.run_in_executor(...)`")
            return EMPTY
        if meth in _EXECUTOR_METHODS and every and self.is_executor(recv, st):
            self.sink("FA202", node, every, f"`{key}.{meth}(...)`")
            return EMPTY
        if meth in ("put", "put_nowait") and every and self.is_queue(recv, st):
            self.sink("FA203", node, every, f"`{key}.{meth}(...)`")
            return EMPTY
        return None

    def numpy_call(self, node: ast.Call, qual: str, arg_taints: list[Taint],
                   kw_taints: list[Taint]) -> Taint:
        """The value of ``np.<function>(...)``: a view of its first argument (``np.reshape``,
        ``np.asarray``, ``np.array(a, copy=False)``), its output array (``out=x``,
        ``np.add(a, b, x)``), or a new array."""
        short = qual.rsplit(".", 1)[-1]
        if arg_taints and (short in NUMPY_VIEW_FUNCS
                           or short == "array" and _is_false(_keyword(node, "copy"))):
            return _no_closure(arg_taints[0])
        top = qual.count(".") == 1  # np.add(...), not np.add.reduce(...)
        out = self.out_array(node, arg_taints, kw_taints,
                             NUMPY_POSITIONAL_OUT.get(short) if top else None)
        return _no_closure(out or EMPTY)

    @staticmethod
    def out_array(node: ast.Call, arg_taints: list[Taint], kw_taints: list[Taint],
                  position: int | None) -> Taint | None:
        """The taint of the output array of a NumPy call that writes into one (``out=x``, or
        ``np.add(a, b, x)`` with ``position`` 2); the call returns that array. None without
        one."""
        for kw, taint in zip(node.keywords, kw_taints):
            if kw.arg == "out":
                if isinstance(kw.value, ast.Tuple) and len(kw.value.elts) == 1:
                    return elements(taint)  # out=(x,)
                return taint
        if (position is not None and len(node.args) > position
                and not any(isinstance(a, ast.Starred) for a in node.args[:position + 1])):
            return arg_taints[position]
        return None

    def mark_waited(self, node: ast.Call) -> None:
        """Executor work whose results this very expression collects: ``pool.submit(...)
        .result()``, ``list(pool.map(...))`` (also tuple, sorted, sum, ...)."""
        mc = method_call(node)
        if mc and mc[1] == "result" and (inner := method_call(mc[0])) and inner[1] == "submit":
            self.waited.add(id(mc[0]))
        elif (isinstance(node.func, ast.Name) and node.func.id in _CONSUMERS and node.args
              and _is_map_call(node.args[0])):
            self.waited.add(id(node.args[0]))

    def new_origin(self, node: ast.Call, receiver: str, call: str, st: State,
                   items: bool = False) -> Taint:
        """A frame allocation: a fresh origin (live, not yet across an await); ``items`` when
        its elements are record views."""
        task = receiver in self.task_frames
        origin = Origin(node.lineno, node.col_offset, receiver, call, bool(st.open) or task,
                        task, st.active.get(receiver, frozenset()))
        if self.scope.is_async and not task:
            self.out.emit("FA701", node,
                          f"frame allocation `{call}(...)` inside `async def`: the frame is "
                          "shared with every task on this thread and may end while this task is "
                          "suspended; allocate inside `async with "
                          f"{receiver}.task_frame():` (a frame of this task's own), use "
                          "task-scoped pool memory (`pool_box` in a `with` block) or do the frame "
                          "work in a synchronous helper")
        return frozenset({Ref(origin, items=items)})

    def _last_component(self, recv: ast.expr) -> str:
        if isinstance(recv, ast.Attribute):
            return recv.attr.lower()
        if isinstance(recv, ast.Name):
            return recv.id.lower()
        return ""

    def is_executor(self, recv: ast.expr, st: State) -> bool:
        """A receiver bound to an executor / pool, or named like one."""
        if self.kind_of(recv, st) == "executor":
            return True
        last = self._last_component(recv)
        return "executor" in last or last == "pool" or last.endswith("_pool")

    def is_queue(self, recv: ast.expr, st: State) -> bool:
        """A receiver bound to a queue class, or named like one (``queue``, ``q``, ``*_q``)."""
        if self.kind_of(recv, st) == "queue":
            return True
        last = self._last_component(recv)
        return "queue" in last or last == "q" or last.endswith("_q")

    def sink(self, code: str, node: ast.Call, taint: Taint, what: str) -> None:
        """Frame data handed to another thread or task."""
        ref = _first(taint)
        via = "a closure capturing " if ref.closure else ""
        self.out.emit(code, node,
                      f"{via}frame memory from {_describe(ref.origin)} is handed to {what}, which "
                      "uses it on another thread after this frame may have ended; pass "
                      f"`{_TRANSFER}` and `receive()` it on the other side, or pass a copy")
