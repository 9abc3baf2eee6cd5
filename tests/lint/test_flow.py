"""Data flow and control flow, case by case, on small snippets."""
from __future__ import annotations

import ast
import sys
import textwrap

import pytest

from framealloc.lint import LintConfig, lint_source

from .helpers import codes_in


def lint(src: str) -> list[tuple[int, str]]:
    return [(d.line, d.code) for d in lint_source(textwrap.dedent(src))]


# -- following names -------------------------------------------------------------------------

@pytest.mark.parametrize("bind,use", [
    ("a = alloc.frame_array(4, 'f4')", "a"),
    ("a, b = alloc.frame_alloc_2('f4,f4')", "b"),
    ("[a, *rest] = alloc.frame_alloc_4([('x', 'f4')])", "rest"),
    ("a = alloc.frame_alloc_batch(dtype=np.dtype([('x', 'f4')]), n=4)", "a[i]"),
    ("a = alloc.frame_alloc_8('f4')", "a[2:]"),
    ("a = alloc.frame_alloc_batch(P, 10)", "a['pos']"),
    ("a = alloc.try_frame_box(x)", "a.reshape(-1)"),
    ("a = alloc.frame_zeros(4)", "np.asarray(a)"),
    ("a = alloc.frame_vec('i4', 8)", "a.as_array()"),
    ("a = alloc.frame_array(4); b = a", "b"),
    ("a = alloc.frame_array(4); b = [a, 1]", "b"),
    ("a = alloc.frame_array(4); b = a if c else None", "b"),
    ("a = alloc.frame_array(4); b = {'k': a}", "b"),
    ("L = alloc.frame_layout(p=(4, 'f4')); s = L.alloc()", "s.p"),
    ("(a := alloc.frame_array(4))", "a.T"),
    ("a = alloc.frame_with_importance(x, 1.0)", "a"),
    ("a = alloc.frame_retained(x, policy)", "a"),
    ("a = alloc.frame_array(4); a += 1", "a"),
    ("a = alloc.frame_array(4); b = a[...]", "b"),
    ("a = alloc.frame_array(4); b = np.add(x, 1, out=a)", "b"),
    ("a = alloc.frame_array(4); b = np.add(x, 1, out=(a,))", "b"),
    ("a = alloc.frame_array(4); b = np.add(x, 1, a)", "b"),
    ("a = alloc.frame_array(4); b = np.sqrt(x, a)", "b"),
    ("a = alloc.frame_array(4); b = x.sum(axis=0, out=a)", "b"),
    ("a = alloc.frame_array(4); b = np.array(a, copy=False)", "b"),
    ("a = alloc.frame_array(4); b = a.astype('f4', copy=False)", "b"),
    ("a = alloc.frame_array(4); b = [a]; c = b[0]", "c"),
    ("a = alloc.frame_array(4); b = (a, 1); c, d = b", "c"),
    ("a = alloc.frame_array(4); b = []; b.append(a); c = b[-1]", "c"),
    ("a = alloc.frame_array(4); b = {'k': a}; c = b['k']", "c"),
    ("a = alloc.frame_array(4); b = [a]; b += [x]", "b"),
])
def test_frame_values_are_followed(bind: str, use: str) -> None:
    src = f"""
    class C:
        def f(self, alloc, x, P, c, policy):
            {bind}
            self.keep = {use}
    """
    assert [c for _, c in lint(src)] == ["FA601"]


@pytest.mark.parametrize("use", [
    "a.copy()", "a.sum()", "a[0]", "a[i]", "a.shape", "a.size", "a.dtype", "len(a)",
    "np.array(a)", "a + 1", "a.astype('f8')", "alloc.frame_box_for_transfer(a)", "a.tolist()",
    "np.add(a, 1)", "np.add(x, a, out=x)", "np.add(x, a, x)", "a.sum(out=x)", "a[a > 0]",
    "a[~m]", "a[(a > 0) & m]", "a[[0, 2]]", "np.array(a, copy=True)", "float(a[0])",
    "np.multiply.reduce(a, 0, None, x)",
])
def test_derived_values_are_not_frame_memory(use: str) -> None:
    src = f"""
    class C:
        def f(self, alloc, i, x, m):
            a = alloc.frame_array(4)
            self.keep = {use}
    """
    assert lint(src) == []


def test_rebinding_forgets_frame_memory() -> None:
    assert lint("""
    class C:
        def f(self, alloc):
            a = alloc.frame_array(4)
            a = a.copy()
            self.keep = a
    """) == []


def test_del_forgets() -> None:
    assert lint("""
    def f(alloc):
        alloc.begin_frame()
        a = alloc.frame_array(4)
        del a
        alloc.end_frame()
        a = 1
        print(a)
    """) == []


def test_branches_join() -> None:
    assert lint("""
    class C:
        def f(self, alloc, c):
            if c:
                a = alloc.frame_array(4)
            else:
                a = None
            self.keep = a
    """) == [(8, "FA601")]


def test_unreachable_code_after_return_is_not_analysed_for_flow() -> None:
    assert lint("""
    def f(alloc):
        with alloc.frame():
            a = alloc.frame_array(4)
            return 1
        print(a)
    """) == []


def test_layout_from_module_level() -> None:
    assert lint("""
    LAYOUT = ALLOC.frame_layout(pos=((4, 3), 'f4'))
    class C:
        def step(self):
            s = LAYOUT.alloc()
            self.p = s.pos
    """) == [(6, "FA601")]


def test_unknown_alloc_method_is_not_a_layout() -> None:
    assert lint("""
    class C:
        def f(self, pool):
            s = pool.alloc()
            self.p = s
    """) == []


# -- NumPy semantics: in-place updates, out= arrays, elements --------------------------------

#: Every augmented-assignment operator, from the grammar itself.
AUG_OPS = sorted(ast.unparse(ast.AugAssign(target=ast.Name("x"), op=op(), value=ast.Name("a")))
                 .split()[1] for op in ast.operator.__subclasses__())


def test_every_augmented_operator_is_covered() -> None:
    assert len(AUG_OPS) == 13 and "@=" in AUG_OPS and "//=" in AUG_OPS


@pytest.mark.parametrize("op", AUG_OPS)
def test_augmented_assignment_updates_in_place(op: str) -> None:
    """`x op= frame_view` writes into x (the caller's array): x never refers to frame memory."""
    assert lint(f"""
    def f(alloc, x, n):
        for _ in range(n):
            alloc.begin_frame()
            x {op} alloc.frame_zeros(x.shape, x.dtype)
            alloc.end_frame()
        return x
    """) == []


@pytest.mark.parametrize("op", AUG_OPS)
def test_augmented_assignment_keeps_frame_memory(op: str) -> None:
    """`a op= x` on a frame array keeps a the frame array it was."""
    assert lint(f"""
    def f(alloc, x):
        with alloc.frame():
            a = alloc.frame_zeros(x.shape, x.dtype)
            a {op} x
        return a
    """) == [(6, "FA604")]


@pytest.mark.parametrize("target,where", [
    ("self.total", None), ("state.total", None), ("TOTAL", None), ("x[0]", None),
    ("x[...]", None), ("self.d['k']", None),
    ("self.items", "FA601"), ("ITEMS", "FA602"), ("state.items", "FA601"),
])
def test_augmented_assignment_on_long_lived_places(target: str, where: str | None) -> None:
    """In place into a long-lived array is no escape; growing a long-lived list by frame data is."""
    value = "[v]" if "items" in target or target == "ITEMS" else "v"
    found = lint(f"""
    TOTAL = 0
    ITEMS = []
    class C:
        def f(self, alloc, state, x):
            global TOTAL, ITEMS
            with alloc.frame():
                v = alloc.frame_array(4)
                {target} += {value}
    """)
    assert found == ([(9, where)] if where else [])


def test_list_extended_by_frame_data_holds_it() -> None:
    assert lint("""
    class C:
        def __init__(self):
            self.items = []
        def f(self, alloc):
            v = alloc.frame_array(4)
            self.items += [v]
            local = []
            local += (v,)
            self.last = local[0]
            self.items += v.tolist()
    """) == [(7, "FA601"), (10, "FA601")]


@pytest.mark.parametrize("dtype,followed", [
    ("", False), ("np.float32", False), ("'f4'", False), ("dtype=np.int64", False),
    ("float", False), ("DT", False), ("REC", True), ("[('x', 'f4')]", True), ("'f4,i4'", True),
    ("np.dtype([('x', 'f4')])", True), ("dtype=REC", True),
])
def test_unpacking_reads_numbers_or_record_views(dtype: str, followed: bool) -> None:
    """frame_alloc_2 of a numeric dtype unpacks into copies of the numbers, of a record dtype into
    record views (frame memory)."""
    src = f"""
    import numpy as np
    REC = np.dtype([('x', 'f4'), ('y', 'f4')])
    def f(alloc, DT):
        with alloc.frame():
            lo, hi = alloc.frame_alloc_2({dtype})
            return lo, hi
    """
    assert lint(src) == ([(7, "FA604")] if followed else [])


def test_the_issue_kernel_and_its_variants_lint_clean() -> None:
    """Issue 18: the kernel, its checkpoint-per-iteration and one-frame-per-call variants."""
    issue = """
    from numba import njit

    @njit(nogil=True)
    def foo(a, x, iters):
        for _ in range(iters):
            a.begin_frame()
            x += a.frame_zeros(x.shape, x.dtype)
            a.end_frame()
        return x

    @njit(nogil=True)
    def foo_checkpoint(a, x, iters):
        a.begin_frame()
        for _ in range(iters):
            cp = a.frame_checkpoint()
            x += a.frame_zeros(x.shape, x.dtype)
            a.rollback_to(cp)
        a.end_frame()
        return x

    @njit(nogil=True)
    def foo_per_call(a, x):
        a.begin_frame()
        x += a.frame_zeros(x.shape, x.dtype)
        a.end_frame()
        return x
    """
    assert lint(issue) == []


# -- one finding per problem -------------------------------------------------------------------

DEAD = """
def f(alloc, x, y):
    alloc.begin_frame()
    a = alloc.frame_zeros(x.shape, x.dtype)
    b = alloc.frame_zeros(x.shape, x.dtype)
    alloc.end_frame()
    {stmt}
"""


@pytest.mark.parametrize("stmt,cols", [
    ("a += a.sum() + a.max()", [5]),
    ("y[:] = a + a * a", [12]),
    ("print(a.sum(), a.max(), a[0])", [11]),
    ("print(a.sum(), b.max(), a[0])", [11, 20]),
    ("if a.sum() > a.max():\n        pass", [8]),
    ("for v in a[a > 0]:\n        print(a, v)", [14, 15]),
])
def test_a_dead_name_is_reported_once_per_statement(stmt: str, cols: list[int]) -> None:
    """Several uses of one dead name in one statement are one finding at the first use; another
    name, or another statement, is another finding."""
    ds = lint_source(DEAD.format(stmt=stmt))
    assert [d.code for d in ds] == ["FA605"] * len(cols)
    assert [d.col + 1 for d in ds] == cols


@pytest.mark.parametrize("stmt", [
    "print(a.shape, a.dtype, a.ndim, a.size, a.nbytes, a.itemsize, a.strides)",
    "if a is None:\n        pass", "ok = a is not None", "ok = None is a",
])
def test_metadata_of_a_dead_array_is_no_use_of_its_data(stmt: str) -> None:
    """The array object keeps its shape and dtype after the frame; only its data is recycled."""
    assert lint_source(DEAD.format(stmt=stmt)) == []


@pytest.mark.parametrize("stmt", ["print(a.data)", "print(a.ctypes.data)", "ok = a == None",
                                  "print(len(a))", "print(a.T.shape)"])
def test_other_uses_of_a_dead_array_are_reported(stmt: str) -> None:
    assert [d.code for d in lint_source(DEAD.format(stmt=stmt))] == ["FA605"]


@pytest.mark.parametrize("ret,found", [
    ("a", [(7, "FA604")]), ("a[1:]", [(7, "FA604")]), ("(a, b)", [(7, "FA604")]),
    ("a[0]", [(7, "FA605")]), ("float(a.sum())", [(7, "FA605")]), ("a.shape", []),
    ("a[0], b", [(7, "FA604"), (7, "FA605")]), ("a if x else a[0]", [(7, "FA604")]),
])
def test_returning_dead_frame_data(ret: str, found: list[tuple[int, str]]) -> None:
    """Handing the memory out is FA604; reading a number out of recycled memory is FA605."""
    assert lint(DEAD.format(stmt=f"return {ret}")) == found


def test_show_all_lists_every_use() -> None:
    src = DEAD.format(stmt="print(a.sum(), a.max(), a[0])")
    everything = lint_source(src, config=LintConfig(show_all=True))
    assert [(d.line, d.col + 1) for d in everything] == [(7, 11), (7, 20), (7, 29)]
    assert [(d.line, d.col + 1) for d in lint_source(src)] == [(7, 11)]


def test_dead_uses_in_a_loop_are_reported_once_per_statement() -> None:
    assert lint("""
    async def f(alloc, net, n):
        a = alloc.frame_array(4)
        await net.flush()
        for i in range(n):
            a[i] = a[i - 1] + a[i]
    """) == [(3, "FA701"), (6, "FA702")]


# -- lifetime ------------------------------------------------------------------------------

def test_each_end_frame_method_ends_data() -> None:
    for end in ("end_frame()", "end_frame_with_promotions()"):
        src = f"""
        def f(alloc):
            alloc.begin_frame()
            a = alloc.frame_array(4)
            alloc.{end}
            return a.sum()
        """
        assert lint(src) == [(6, "FA605")], end


def test_unified_allocator_ends_cpu_data() -> None:
    assert lint("""
    def f(cpu, gpu):
        unified = UnifiedAllocator(cpu, gpu)
        unified.begin_frame()
        a = cpu.frame_array(4)
        unified.end_frame()
        print(a)
    """) == [(7, "FA605")]


def test_loop_rebinds_each_frame() -> None:
    assert lint("""
    def f(alloc, n):
        for _ in range(n):
            alloc.begin_frame()
            a = alloc.frame_array(4)
            a[:] = 0
            alloc.end_frame()
        return 0
    """) == []


def test_use_after_loop_of_frames() -> None:
    assert lint("""
    def f(alloc, n):
        for _ in range(n):
            with alloc.frame():
                a = alloc.frame_array(4)
        return a.sum()
    """) == [(6, "FA605")]


def test_break_out_of_frame_block_ends_the_frame() -> None:
    assert lint("""
    def f(alloc, xs):
        for x in xs:
            with alloc.frame():
                a = alloc.frame_array(4)
                if x:
                    break
        print(a)
    """) == [(8, "FA605")]


def test_closure_call_inside_frame_is_fine_but_after_is_not() -> None:
    assert lint("""
    def f(alloc):
        with alloc.frame():
            a = alloc.frame_array(4)
            g = lambda: a.sum()
            g()
        g()
    """) == [(7, "FA603")]


def test_return_of_closure_from_callers_frame_is_fine() -> None:
    assert codes_in("def f(alloc):\n    a = alloc.frame_array(4)\n    return lambda: a\n") == []


# -- FA606 paths --------------------------------------------------------------------------

@pytest.mark.parametrize("body,expect", [
    ("alloc.begin_frame()\nalloc.end_frame()", []),
    ("alloc.begin_frame()\nif c:\n    return\nalloc.end_frame()", ["FA606"]),
    ("alloc.begin_frame()\nif c:\n    raise E\nalloc.end_frame()", ["FA606"]),
    ("alloc.begin_frame()\ntry:\n    if c:\n        return\nfinally:\n    alloc.end_frame()", []),
    ("alloc.begin_frame()\ntry:\n    if c:\n        raise E\nexcept E:\n    pass\n"
     "alloc.end_frame()", []),
    ("while c:\n    alloc.begin_frame()\n    if c:\n        break\n    alloc.end_frame()",
     ["FA606"]),
    ("while c:\n    alloc.begin_frame()\n    if c:\n        continue\n    alloc.end_frame()",
     ["FA606"]),
    ("alloc.begin_frame()\nmatch c:\n    case 1:\n        alloc.end_frame()\n    case _:\n"
     "        alloc.end_frame()", []),
    ("alloc.begin_frame()\nmatch c:\n    case 1:\n        alloc.end_frame()", ["FA606"]),
    ("with alloc.frame():\n    if c:\n        return", []),
])
def test_begin_end_pairing(body: str, expect: list[str]) -> None:
    src = "def f(alloc, c, E):\n" + textwrap.indent(body, "    ") + "\n"
    assert codes_in(src) == expect


def test_module_level_script_frames() -> None:
    assert codes_in("alloc.begin_frame()\nx = 1\nalloc.end_frame()\n") == []
    assert codes_in("sim.begin_frame()\nx = 1\n") == ["FA606"]


# -- threads and async --------------------------------------------------------------------

def test_partial_passed_to_thread() -> None:
    assert lint("""
    import functools, threading
    def f(alloc):
        a = alloc.frame_array(4)
        threading.Thread(target=functools.partial(print, a)).start()
    """) == [(5, "FA201")]


def test_executor_bound_on_self() -> None:
    assert lint("""
    from concurrent.futures import ProcessPoolExecutor
    class C:
        def __init__(self):
            self.workers = ProcessPoolExecutor()
        def go(self, alloc):
            a = alloc.frame_array(4)
            self.workers.map(print, a)
    """) == [(8, "FA202")]


def test_async_comprehension_and_nested_sync_def() -> None:
    assert lint("""
    async def f(alloc, it):
        def helper():
            return alloc.frame_array(4)
        return [x async for x in it]
    """) == []


def test_await_inside_begin_end_window() -> None:
    assert lint("""
    async def f(alloc, io):
        alloc.begin_frame()
        await io()
        alloc.end_frame()
    """) == [(4, "FA703")]


# -- robustness -------------------------------------------------------------------------

def test_unusual_syntax_does_not_crash() -> None:
    src = """
    import numpy as np
    x: int
    y: "np.ndarray" = np.zeros(3)
    def g(*a, b=1, **k): ...
    class K(metaclass=M):
        z = [i for i in range(3) if i]
    try:
        pass
    except ValueError as e:
        pass
    async def h():
        async with a as (b, c):
            yield b
        return
    lambda: (yield)
    print(f"{x!r:>10}", *y, **{})
    global_var = (w := 3)
    del y
    """
    assert lint(src) == []


@pytest.mark.skipif(sys.version_info < (3, 11), reason="except* needs Python 3.11")
def test_exception_groups() -> None:
    assert lint("""
    def f(alloc):
        alloc.begin_frame()
        try:
            pass
        except* ValueError:
            return
        finally:
            alloc.end_frame()
    """) == []


def test_syntax_error_is_raised() -> None:
    with pytest.raises(SyntaxError):
        lint_source("def f(:\n")


# -- FA301 budgets ------------------------------------------------------------------------

LOOP = "def run(alloc):\n    while True:\n        alloc.frame_array(8)\n"


@pytest.mark.parametrize("budget", [
    "alloc.set_thread_frame_budget(1 << 20)",
    "alloc.set_tag_budget('physics', 1 << 20, hard=True)",
    "alloc.set_budget(1 << 20)",
    "alloc = SmartAlloc(AllocConfig(frame_budget=1 << 20))",
    "cfg = fa.AllocConfig(tag_budgets={'physics': 1 << 20})",
    "cfg.global_budget = 1 << 20",
])
def test_any_budget_in_the_module_silences_fa301(budget: str) -> None:
    assert codes_in(LOOP) == ["FA301"]
    assert codes_in(f"def setup(alloc, cfg, fa):\n    {budget}\n" + LOOP) == []


@pytest.mark.parametrize("not_a_budget", [
    "alloc = SmartAlloc(AllocConfig(frame_capacity=1 << 20))",
    "alloc.budget_report()",
    "print('set_budget')",
])
def test_other_settings_do_not_count_as_budgets(not_a_budget: str) -> None:
    assert codes_in(f"def setup(alloc):\n    {not_a_budget}\n" + LOOP) == ["FA301"]


def test_fa301_reports_once_per_loop() -> None:
    src = LOOP + "        alloc.frame_vec('i4', 4)\n"
    assert lint(src) == [(3, "FA301")]


# -- task frames: the task's own frame across await ------------------------------------------

#: (how the block opens, the receiver its frame allocations use, whether it is the task's frame)
FRAME_BLOCKS = [
    ("async with alloc.task_frame():", "alloc", True),
    ("async with alloc.task_frame(chunk_size=4096):", "alloc", True),
    ("async with alloc.task_frame() as a:", "a", True),
    ("async with self.alloc.task_frame():", "self.alloc", True),
    ("with alloc.frame():", "alloc", False),
    ("async with alloc.task_frame():", "other", False),   # another allocator's thread frame
]
#: statements after the await that use the data (each a use of `x`)
AWAIT_USES = ["x[:] = 1", "print(x.sum())", "y = x[1:]; y[0] = 2", "kernel(alloc, x)"]


@pytest.mark.parametrize("opener,recv,own", FRAME_BLOCKS)
@pytest.mark.parametrize("use", AWAIT_USES)
def test_task_frame_data_lives_across_await_thread_frame_data_does_not(
        opener: str, recv: str, own: bool, use: str) -> None:
    found = lint(f"""
    class C:
        async def f(self, alloc, other, kernel, net):
            {opener}
                x = {recv}.frame_array(8)
                await net.flush()
                {use}
    """)
    if own:
        assert found == []
    else:
        # a thread's frame: the allocation, the await inside an open frame (only when the frame
        # opened here is that allocator's) and the use after the await are all reported
        codes = [c for _, c in found]
        assert codes[0] == "FA701" and codes[-1] == "FA702"
        assert ("FA703" in codes) == (opener == "with alloc.frame():")


@pytest.mark.parametrize("opener,recv", [(o, r) for o, r, own in FRAME_BLOCKS if own])
def test_task_frame_data_is_dead_after_the_block(opener: str, recv: str) -> None:
    assert lint(f"""
    class C:
        async def f(self, alloc, net):
            {opener}
                x = {recv}.frame_array(8)
                await net.flush()
            return x.sum()
    """) == [(7, "FA605")]


def test_task_frame_data_returned_from_its_block() -> None:
    assert lint("""
    async def f(alloc, net):
        async with alloc.task_frame():
            x = alloc.frame_array(8)
            await net.flush()
            return x
    """) == [(6, "FA604")]


def test_data_from_before_the_task_frame_still_crosses_awaits() -> None:
    assert lint("""
    async def f(alloc, net):
        x = alloc.frame_array(8)
        async with alloc.task_frame():
            x[:] = 1
    """) == [(3, "FA701"), (5, "FA702")]


def test_a_task_frame_in_a_loop_is_the_loop_body_s_own() -> None:
    assert lint("""
    async def f(alloc, net, n):
        for _ in range(n):
            async with alloc.task_frame():
                x = alloc.frame_array(8)
                await net.flush()
                x[:] = 1
        while True:
            async with alloc.task_frame():
                y = alloc.frame_zeros(8)
            await net.flush()
    """) == []


# -- rollbacks: what was allocated after a checkpoint dies at the rollback to it -------------

#: (checkpoint statement, rollback statement): the explicit pairs, Python and @njit forms
ROLLBACK_PAIRS = [
    ("cp = alloc.frame_checkpoint()", "alloc.rollback_to(cp)"),
    ("cp = alloc.frame_checkpoint()", "alloc.rollback_to(cp=cp)"),
    ("cp = alloc.frame_checkpoint()", "alloc.frame_rollback_to(cp)"),
    ("cp = alloc.scope_begin()", "alloc.scope_end(cp)"),
]
#: `with` blocks whose allocations die at their end
SCOPE_BLOCKS = ["with alloc.scope():", "with alloc.checkpoint_guard():",
                "with alloc.checkpoint_guard() as g:"]
USES = ["b[:] = 1", "print(b.sum())", "c = b.T", "np.add(a, 1, out=b)", "kernel(b)"]


def test_the_vocabulary_covers_the_public_checkpoint_api() -> None:
    """Every public SmartAlloc method about checkpoints, rollbacks or scopes is known to the
    linter, so a new one cannot be forgotten."""
    import framealloc as fa
    from framealloc.lint.analysis.calls import (CHECKPOINT_METHODS, ROLLBACK_METHODS,
                                                SCOPE_WITH_METHODS)
    known = CHECKPOINT_METHODS | ROLLBACK_METHODS | SCOPE_WITH_METHODS
    public = {m for m in dir(fa.SmartAlloc) if not m.startswith("_")
              and ("checkpoint" in m or "rollback" in m or m.startswith("scope"))}
    assert public and public <= known, public - known
    assert hasattr(fa.SmartAlloc, "task_frame")


#: Public SmartAlloc names with "frame" in them that do not return frame memory.
NOT_FRAME_MEMORY = {
    "begin_frame", "end_frame", "end_frame_with_promotions", "frame", "frame_checkpoint",
    "frame_number", "in_frame", "retained_in_frame",
    "set_thread_frame_budget", "task_frame", "frame_layout",     # a layout object, reused
    "frame_box_for_transfer",                                    # a handle made to cross threads
}


def test_the_vocabulary_covers_every_frame_allocating_method() -> None:
    """Every public SmartAlloc method that returns frame memory (the creation family and
    frame_eval included) is a frame allocation to the linter, so a new one cannot be forgotten."""
    import framealloc as fa
    from framealloc.lint.analysis.calls import FRAME_ALLOC_METHODS
    public = {m for m in dir(fa.SmartAlloc) if not m.startswith("_") and "frame" in m}
    assert NOT_FRAME_MEMORY <= public, NOT_FRAME_MEMORY - public
    missing = public - NOT_FRAME_MEMORY - FRAME_ALLOC_METHODS
    assert not missing, missing


@pytest.mark.parametrize("make", ["alloc.frame_zeros_like(x)", "alloc.frame_copy(x)",
                                  "alloc.frame_eval(f, x, x)", "alloc.try_frame_full(3, 1.0)",
                                  "alloc.frame_concatenate((x, x))"])
def test_creation_results_die_with_the_frame(make: str) -> None:
    assert lint(f"""
    def f(alloc, x, f):
        with alloc.frame():
            b = {make}
        b[:] = 0
    """) == [(5, "FA605")]


@pytest.mark.parametrize("cp,rb", ROLLBACK_PAIRS)
@pytest.mark.parametrize("use", USES)
def test_use_after_rollback_fires(cp: str, rb: str, use: str) -> None:
    assert lint(f"""
    def f(alloc, kernel):
        with alloc.frame():
            a = alloc.frame_array(4)
            {cp}
            b = alloc.frame_array(4)
            {rb}
            a[:] = 0
            {use}
    """) == [(9, "FA605")]


@pytest.mark.parametrize("cp,rb", ROLLBACK_PAIRS)
@pytest.mark.parametrize("near_miss", [
    "b[:] = 1\n{rb}",                       # used before the rollback
    "keep = b.copy()\n{rb}\nprint(keep)",   # a copy survives
    "{rb}\nb = alloc.frame_array(4)\nb[:] = 1",  # rebound after the rollback
    "other.{rb}\nb[:] = 1",                 # another allocator rolled back
    "{rb_other}\nb[:] = 1",                 # rollback to a checkpoint not known here
])
def test_rollback_near_misses(cp: str, rb: str, near_miss: str) -> None:
    rb_other = rb.replace("(cp)", "(self_cp)").replace("(cp=cp)", "(cp=self_cp)")
    body = near_miss.format(rb=rb, rb_other=rb_other).replace("other.alloc.", "other.")
    body = textwrap.indent(body, " " * 12).lstrip()
    assert lint(f"""
    def f(alloc, other, self_cp):
        with alloc.frame():
            {cp}
            b = alloc.frame_array(4)
            {body}
    """) == []


@pytest.mark.parametrize("opener", SCOPE_BLOCKS)
@pytest.mark.parametrize("use", USES)
def test_use_after_scope_block_fires(opener: str, use: str) -> None:
    assert lint(f"""
    def f(alloc, kernel):
        with alloc.frame():
            a = alloc.frame_array(4)
            {opener}
                b = alloc.frame_array(4)
                b[:] = 2
            a[:] = 0
            {use}
    """) == [(9, "FA605")]


@pytest.mark.parametrize("opener", SCOPE_BLOCKS)
def test_scope_block_near_misses(opener: str) -> None:
    assert lint(f"""
    def f(alloc, other, x):
        with alloc.frame():
            a = alloc.frame_array(4)
            {opener}
                b = alloc.frame_array(4)
                c = other.frame_array(4)
                b[:] = a
                x += b
            a[:] = 0
            c[:] = 0
    """) == []


def test_committed_guard_keeps_its_allocations() -> None:
    assert lint("""
    def f(alloc, ok):
        with alloc.frame():
            with alloc.checkpoint_guard() as g:
                b = alloc.frame_array(4)
                if ok(b):
                    g.commit()
            b[:] = 0
    """) == []


def test_nested_checkpoints_and_a_rollback_in_a_branch() -> None:
    assert lint("""
    def f(alloc, c):
        with alloc.frame():
            cp1 = alloc.frame_checkpoint()
            a = alloc.frame_array(4)
            cp2 = alloc.frame_checkpoint()
            b = alloc.frame_array(4)
            alloc.rollback_to(cp2)
            a[:] = 1
            if c:
                alloc.rollback_to(cp1)
            a[:] = 2
    """) == [(12, "FA605")]


def test_rollback_each_iteration_of_a_speculative_loop() -> None:
    assert lint("""
    def f(a, x, iters, keep):
        a.begin_frame()
        best = a.frame_array(x.shape, x.dtype)
        for _ in range(iters):
            cp = a.frame_checkpoint()
            trial = a.frame_zeros(x.shape, x.dtype)
            best[:] = trial
            a.rollback_to(cp)
        keep(best)
        keep(trial)
        a.end_frame()
    """) == [(11, "FA605")]
