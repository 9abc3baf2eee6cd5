"""One status vocabulary and one code table: every status is its FA number, every runtime code
has one entry, and every message text exists once (the table), whether Python or @njit code
raises it."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

import framealloc as fa
from framealloc.errors import CODES, FrameAllocError, all_codes, error, exception_class, message
from framealloc.kernels import status as ST
from framealloc.kernels.status import Status

SRC = Path(fa.__file__).parent


def _texts(info):
    yield info.message or info.title, info.todo
    for _, (msg, todo) in info.cases:
        yield msg, todo


def test_every_status_is_its_code_and_has_one_entry():
    failures = {s for s in Status if s > 0}
    assert {f"FA{int(s):03d}" for s in failures} == set(CODES)
    assert all(s.code == f"FA{int(s):03d}" for s in failures)
    assert all(s < 0 for s in Status if s.name not in ("OK",) and s not in failures)
    assert Status.OK == 0 and Status.HEAP < 0 and Status.INTERNAL < 0
    # @njit code reads the same values as plain module ints
    assert all(getattr(ST, s.name) == int(s) and type(getattr(ST, s.name)) is int for s in Status)
    assert set(all_codes()) >= set(CODES)


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_message_formats_with_its_defaults(code):
    info = CODES[code]
    for case in (None, *dict(info.cases)):
        text = message(code, case)
        assert text.startswith(f"{code}: ") and "{" not in text and "\n" not in text
    if info.exception:
        cls = exception_class(code)
        assert cls.__name__ == info.exception.rsplit(".", 1)[-1]
        if issubclass(cls, FrameAllocError):
            e = error(code)
            assert type(e) is cls and e.code == code and str(e) == message(code)


def test_no_message_text_is_written_twice():
    """The short messages live in the table only: no two entries share one, and no string literal
    elsewhere in framealloc repeats the fixed text of a message or a what-to-do."""
    shown = {}
    for code, info in CODES.items():
        for case in (None, *dict(info.cases)):
            text = message(code, case)[7:]
            assert shown.setdefault(text, code) == code, f"{code} repeats {shown[text]}"
    # the fixed fragments of the templates (between fields), long enough to mean something
    fragments = {f for info in CODES.values() for pair in _texts(info) for text in pair
                 for f in re.split(r"\{\w+\}", text) if len(f.strip()) >= 24}
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py" or "lint" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docs:
                offenders += [f"{path.relative_to(SRC)}:{node.lineno}: {f!r}" for f in fragments
                              if f.strip() in node.value]
    assert not offenders, "\n".join(offenders)


def test_one_status_namespace():
    """No module keeps its own status integers or message constants any more."""
    bad = []
    for path in SRC.rglob("*.py"):
        if "lint" in path.parts:
            continue
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Name) and re.fullmatch(r"ST_[A-Z_]+|_M_[A-Z_]+|_MSG_[A-Z_]+",
                                                            t.id):
                    bad.append(f"{path.relative_to(SRC)}: {t.id}")
    assert not bad, bad


def test_python_and_njit_raise_the_same_error():
    """A kernel status raised inside @njit code and from Python: same class, same message (njit
    shows the fields' defaults)."""
    from numba import njit

    from framealloc.kernels.njit_api import _fail

    @njit
    def boom(status):
        _fail(status)

    for status in (ST.FRAME_EXHAUSTED, ST.BUDGET_EXCEEDED, ST.SCRATCH_FULL, ST.INTERNAL):
        with pytest.raises(FrameAllocError) as ei:
            boom(status)
        want = error(status)
        assert type(ei.value) is type(want) and str(ei.value) == str(want)
        assert ei.value.code == want.code
    boom(ST.OK)


def test_pool_statuses_raise_from_the_table_in_python_and_njit():
    from numba import njit

    alloc = fa.SmartAlloc()
    try:
        pool = alloc.typed_pool(np.int32, 1, policy="error")
        pool.acquire()
        with pytest.raises(fa.PoolExhaustedError) as py:
            pool.acquire()

        @njit
        def take(p):
            return p.acquire()

        with pytest.raises(fa.PoolExhaustedError) as nj:
            take(pool)
        assert str(nj.value) == message(Status.POOL_EXHAUSTED)
        assert str(py.value) == message(Status.POOL_EXHAUSTED, what=pool._what)
    finally:
        alloc.close()
