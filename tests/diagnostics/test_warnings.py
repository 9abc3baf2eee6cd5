"""Warnings the Python way (issue 14, item 7): every non-fatal diagnostic is a FrameAllocWarning
subclass carrying its code, issued through warnings.warn (filters and pytest -W work), and
AllocConfig(strict=True) raises them instead."""
from __future__ import annotations

import ast
import importlib
import pathlib
import warnings

import numpy as np
import pytest

import framealloc as fa
from framealloc.errors import CODES, exception_class
from framealloc.gpu import GpuAllocator, GpuBudget, GpuConfig, NullBackend
from framealloc.gpu.unified import UnifiedAllocator, UnifiedBudget

from .test_behaviour import SCENARIOS as BEHAVIOUR_SCENARIOS, warning_scenario

PKG = pathlib.Path(fa.__file__).parent


def _budget(strict=False):
    alloc = fa.SmartAlloc(fa.AllocConfig(strict=strict))
    alloc.set_budget(soft=100)
    with alloc.frame():
        alloc.frame_array(200, np.uint8)
    alloc.stats()                 # delivers the soft event


def _phase(strict=False):
    alloc = fa.SmartAlloc(fa.AllocConfig(strict=strict))
    with alloc.frame():
        alloc.begin_phase("left-open")


def _gpu(strict=False):
    gpu = GpuAllocator(NullBackend(), GpuConfig(block_size=1 << 22, budget=GpuBudget(soft=1 << 20)))
    gpu.allocate_persistent(2 << 20)


def _unified(strict=False):
    cpu = fa.SmartAlloc(fa.AllocConfig(strict=strict))
    u = UnifiedAllocator(cpu, GpuAllocator(NullBackend()), budget=UnifiedBudget(soft=100))
    with u.frame():
        cpu.frame_array(200, np.uint8)
        u.create_staging_buffer(64)


def _escape(strict=False):
    alloc = fa.SmartAlloc(fa.AllocConfig(strict=strict, debug=True))
    with alloc.frame():
        kept = alloc.frame_array(4)
    return kept


def _transparent_refused(strict=False):
    """install_transparent() when this process's install was refused: the refusals themselves
    (numba internals that differ) are made in fresh processes by tests/transparent; here the
    recorded refusal stands in for one, to test the warning's category, code and filters."""
    tp = importlib.import_module("framealloc.transparent")
    saved = tp._native, tp._refusal
    tp._native, tp._refusal = None, "a stand-in refusal (test)"
    try:
        assert fa.install_transparent() is False
    finally:
        tp._native, tp._refusal = saved


#: Every warning framealloc issues, with a scenario that triggers it, and whether
#: AllocConfig.strict reaches it (GPU budgets belong to a GpuAllocator, not a SmartAlloc; a
#: refused transparent install belongs to the process).
SCENARIOS = {
    "FA021": (fa.FrameViewEscapedWarning, _escape, True),
    "FA155": (fa.BudgetWarning, _budget, True),
    "FA190": (fa.TransparentWarning, _transparent_refused, False),
    "FA159": (fa.PhaseWarning, _phase, True),
    "FA407": ("gpu.GpuBudgetWarning", _gpu, False),
    "FA419": ("gpu.UnifiedBudgetWarning", _unified, True),
}
# The behaviour filter's codes (FA51x), with their scenarios from test_behaviour (FA514's soft
# budget raises FA155 first under strict).
SCENARIOS.update({code: (fa.BehaviourWarning, warning_scenario(code), code != "FA514")
                  for code in BEHAVIOUR_SCENARIOS})


def _warning_codes():
    return sorted(c for c in CODES
                  if CODES[c].exception and issubclass(exception_class(c), Warning))


def test_every_warning_code_is_a_frame_alloc_warning_with_its_code():
    codes = _warning_codes()
    assert codes == sorted(SCENARIOS), "each warning code needs a scenario below"
    for code in codes:
        cls = exception_class(code)
        assert issubclass(cls, fa.FrameAllocWarning), code
        assert cls(f"{code}: x").code == code
        assert fa.explain(code).startswith(code)


def test_no_warning_bypasses_errors_warn():
    """One funnel: a warnings.warn call anywhere else would escape strict mode."""
    offenders = []
    for path in PKG.rglob("*.py"):
        if path.name == "errors.py" and path.parent == PKG:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "warn" and isinstance(node.func.value, ast.Name) and \
                    node.func.value.id == "warnings":
                offenders.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_warning_is_issued_with_its_category_and_code(code):
    cls = exception_class(code)
    with pytest.warns(cls) as rec:
        SCENARIOS[code][1]()
    assert any(getattr(r.message, "code", None) == code for r in rec)
    assert all(isinstance(r.message, fa.FrameAllocWarning) for r in rec)


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_filters_turn_it_into_an_error(code):
    cls = exception_class(code)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fa.FrameAllocWarning)
        with pytest.raises(cls) as e:
            SCENARIOS[code][1]()
    assert e.value.code == code


@pytest.mark.parametrize("code", sorted(c for c, s in SCENARIOS.items() if s[2]))
def test_strict_mode_raises_whatever_the_filters(code):
    cls = exception_class(code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SCENARIOS[code][1](strict=False)          # ignored: nothing raised
        with pytest.raises(cls) as e:
            SCENARIOS[code][1](strict=True)
    assert e.value.code == code


def test_strict_budget_runs_every_callback_before_raising():
    seen = []
    alloc = fa.SmartAlloc(fa.AllocConfig(strict=True))
    alloc.set_budget(soft=100, on_soft=seen.append)
    alloc.set_budget(soft=50, kind="frame", on_soft=seen.append)
    with pytest.raises(fa.BudgetWarning):
        with alloc.frame():
            alloc.frame_array(200, np.uint8)
        alloc.stats()
    assert len(seen) == 2
    assert not alloc.in_frame


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_strict_must_be_a_bool(bad):
    with pytest.raises(fa.ConfigError) as e:
        fa.AllocConfig(strict=bad)
    assert e.value.code == "FA013"
