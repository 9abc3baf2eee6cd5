"""The precision corpus (issue 18): no finding on a clean kernel, exactly the planted finding on
the others. See tests/lint/corpus/README.md and corpus_score.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from .corpus_score import kernels, planted, reported, score

KERNELS = kernels()


@pytest.mark.parametrize("path", KERNELS, ids=[p.name for p in KERNELS])
def test_kernel_reports_exactly_what_was_planted(path: Path) -> None:
    want = planted(path)
    assert path.name.startswith("clean_" if not want else "bug_"), "name says clean_/bug_"
    assert sum(want.values()) <= 1, "a planted kernel carries exactly one problem"
    assert reported(path) == want


def test_corpus_precision_and_recall() -> None:
    s = score()
    assert (s.fp, s.fn, s.tp) == (0, 0, s.planted)
    assert s.precision == 1.0 and s.recall == 1.0


def test_corpus_is_large_and_covers_the_idioms() -> None:
    """At least 40 kernels, both kinds, and every idiom the issue names appears in clean ones."""
    clean = [p for p in KERNELS if not planted(p)]
    assert len(KERNELS) >= 40 and len(clean) >= 20 and len(KERNELS) - len(clean) >= 15
    texts = {p.name: p.read_text(encoding="utf-8") for p in clean}
    idioms = {
        "in-place update": "x += ", "out= ufunc": ", out=", "copy into x[...]": "[...] = ",
        ".copy()": ".copy()", "np.array(view)": "np.array(", "float(view[0])": "float(",
        "checkpoint": "frame_checkpoint()", "checkpoint guard": "checkpoint_guard()",
        "prange": "prange(", "try_ form": "try_frame_", "one frame per call": "def foo_step",
        ".T view": ".T", ".reshape view": ".reshape(", ".view view": ".view(",
    }
    missing = [name for name, text in idioms.items() if not any(text in t for t in texts.values())]
    assert missing == []
    assert any(p.suffix == ".ipynb" for p in clean)
    assert any(p.suffix == ".ipynb" for p in KERNELS if planted(p))
