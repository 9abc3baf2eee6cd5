"""Data flow and control flow, case by case, on small snippets."""
from __future__ import annotations

import sys
import textwrap

import pytest

from framealloc.lint import lint_source

from .helpers import codes_in


def lint(src: str) -> list[tuple[int, str]]:
    return [(d.line, d.code) for d in lint_source(textwrap.dedent(src))]


# -- following names -------------------------------------------------------------------------

@pytest.mark.parametrize("bind,use", [
    ("a = alloc.frame_array(4, 'f4')", "a"),
    ("a, b = alloc.frame_alloc_2('f4')", "b"),
    ("[a, *rest] = alloc.frame_alloc_4('f4')", "rest"),
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
])
def test_derived_values_are_not_frame_memory(use: str) -> None:
    src = f"""
    class C:
        def f(self, alloc, i):
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
