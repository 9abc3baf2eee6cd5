"""Every FA4xx code is documented, raised with its class, and reachable through explain()."""
from __future__ import annotations

import pathlib
import re

import pytest

import framealloc
import framealloc.gpu as fgpu
from framealloc.errors import FrameAllocError
from framealloc.gpu.codes import CODES

GPU_SRC = pathlib.Path(fgpu.__file__).parent


def test_codes_are_fa4xx_and_explained():
    assert CODES and all(re.fullmatch(r"FA4\d\d", c) for c in CODES)
    for code, info in CODES.items():
        text = framealloc.explain(code.lower())
        assert text.startswith(f"{code} {info.title}")
        assert len(info.explanation) > 80, f"{code} explanation too short to say what to do"
        assert f"Raised as: framealloc.{info.exception}" in text


def test_each_code_has_its_exception_class():
    for code, info in CODES.items():
        cls = getattr(fgpu, info.exception.removeprefix("gpu."))
        assert issubclass(cls, FrameAllocError)
        assert cls.default_code == code


@pytest.mark.parametrize("name,builtin", [
    ("GpuSizeError", ValueError), ("GpuAlignmentError", ValueError),
    ("GpuUsageError", ValueError), ("GpuOutOfMemoryError", MemoryError),
    ("GpuBudgetExceededError", MemoryError), ("GpuBudgetWarning", UserWarning),
    ("GpuStaleAllocationError", RuntimeError), ("GpuFrameStateError", RuntimeError),
    ("GpuTimeoutError", TimeoutError), ("GpuTransferError", ValueError),
    ("UnifiedBudgetExceededError", MemoryError), ("GpuUnavailableError", RuntimeError),
])
def test_builtin_bases(name, builtin):
    assert issubclass(getattr(fgpu, name), builtin)


def test_every_raised_code_is_documented():
    raised = set()
    for path in GPU_SRC.rglob("*.py"):
        raised |= set(re.findall(r'code="(FA\d{3})"', path.read_text()))
    assert raised, "no codes found in the sources"
    assert raised <= set(CODES), f"undocumented: {sorted(raised - set(CODES))}"
    unused = set(CODES) - raised
    # Warnings are raised through warnings.warn(..., code=...) too, so every code is used.
    assert not unused, f"documented but never raised: {sorted(unused)}"


def test_error_pickles_with_code():
    import pickle
    e = fgpu.GpuOutOfMemoryError("out", code="FA405")
    e2 = pickle.loads(pickle.dumps(e))
    assert e2.code == "FA405" and str(e2) == "FA405: out"
