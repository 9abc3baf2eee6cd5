"""Precision and recall of the linter on the kernel corpus in ``tests/lint/corpus``.

Each corpus file is one kernel: ``clean_*`` files must produce no finding, ``bug_*`` files carry
exactly one planted problem marked ``# expect: FAnnn`` on its line (inside the cell for notebooks).
A reported finding is a true positive when it matches a planted ``(cell, line, code)`` not matched
yet; every other finding (a false alarm, or a second report of the same problem) is a false
positive; a planted finding nobody reported is a false negative.

Run ``python -m tests.lint.corpus_score`` from the repository root to print the figures.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from framealloc.lint import config_for, lint_paths

CORPUS = Path(__file__).parent / "corpus"
_EXPECT_RE = re.compile(r"#\s*expect:\s*((?:FA\d{3}[\s,]*)+)")

Mark = tuple[int | None, int, str]  # (cell or None, line, code)


def kernels() -> list[Path]:
    """Every corpus kernel, sorted by name."""
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".py", ".ipynb"))


def _sources(path: Path) -> list[tuple[int | None, list[str]]]:
    if path.suffix != ".ipynb":
        return [(None, path.read_text(encoding="utf-8").splitlines())]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = []
    for number, cell in enumerate(cells, 1):
        if cell["cell_type"] == "code":
            src = cell["source"]
            out.append((number, ("".join(src) if isinstance(src, list) else src).splitlines()))
    return out


def planted(path: Path) -> Counter[Mark]:
    """The planted findings of a kernel, from its ``# expect:`` markers."""
    marks: Counter[Mark] = Counter()
    for cell, lines in _sources(path):
        for number, line in enumerate(lines, 1):
            m = _EXPECT_RE.search(line)
            if m:
                marks.update((cell, number, code) for code in re.findall(r"FA\d{3}", m.group(1)))
    return marks


def reported(path: Path) -> Counter[Mark]:
    """What the linter reports for a kernel (repeated findings on one line counted each)."""
    report = lint_paths([path], config_for(path))
    assert not report.failures, report.failures
    return Counter((d.cell, d.line, d.code) for d in report.diagnostics)


@dataclass
class Score:
    """Corpus totals and the kernels that did not come out exactly as planted."""

    kernels: int = 0
    clean: int = 0
    planted: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    wrong: dict[str, tuple[list[Mark], list[Mark]]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        """True findings over all findings (1.0 when nothing was reported)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Planted findings reported over planted findings."""
        return self.tp / self.planted if self.planted else 1.0


def score(paths: list[Path] | None = None) -> Score:
    """Lint every kernel and compare with its markers."""
    s = Score()
    for path in paths if paths is not None else kernels():
        want, got = planted(path), reported(path)
        hit = want & got
        s.kernels += 1
        s.clean += not want
        s.planted += sum(want.values())
        s.tp += sum(hit.values())
        s.fp += sum((got - hit).values())
        s.fn += sum((want - hit).values())
        if want != got:
            s.wrong[path.name] = (sorted((want - hit).elements(), key=str),
                                  sorted((got - hit).elements(), key=str))
    return s


def main() -> None:
    """Print the figures and every kernel that differs from its markers."""
    s = score()
    print(f"{s.kernels} kernels ({s.clean} clean, {s.kernels - s.clean} with a planted problem); "
          f"{s.planted} planted findings")
    print(f"reported: {s.tp} true, {s.fp} false, {s.fn} missed")
    print(f"precision {s.precision:.3f}  recall {s.recall:.3f}")
    for name, (missed, extra) in s.wrong.items():
        print(f"  {name}: missed {missed} extra {extra}")


if __name__ == "__main__":
    main()
