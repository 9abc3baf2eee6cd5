"""Every fenced code block of README.md and docs/*.md is a test, or says why it is not.

A block is run according to its language, the first word after the opening fence:

* ``python``: examples with ``>>>`` run as doctests, other blocks are executed. The blocks of one
  file run in order, in one namespace, in a scratch directory of that file (the current
  directory while they run). ``python file=PATH`` is not executed: it writes PATH into that
  directory for the blocks after it.
* ``console``: each ``$ command`` runs in that directory (``python``, ``framealloc`` and
  ``flake8`` of this interpreter's environment, this checkout's framealloc); the lines after it
  are its output, compared as doctest compares (``...`` matches anything).
* ``toml``: parsed; a ``[tool.framealloc.lint]`` table goes through the linter's configuration
  reader, and ``[project]`` dependencies naming framealloc must be requirements this version
  meets with extras that pyproject.toml defines.
* ``text``: output, layouts and synopses, never run.
* Any other block (``bash``, ``yaml``, or one without a language) must be marked, on the line
  before its fence, ``<!-- doc-test: skip: REASON -->`` with a reason of a few words.

Indented code blocks count too: one that starts with ``>>>`` is a python doctest block, any other
needs the marker.

The doctest examples of the files in :data:`DELEGATED` run in the named test module (which runs
them with ``doctest.testfile`` or ``get_doctest``); this module checks that it does.
"""
from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import framealloc

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = ("python", "console", "toml")
NEVER_RUN = ("text",)
SKIP_RE = re.compile(r"^<!-- doc-test: skip: (.+?) -->$")
FENCE_RE = re.compile(r"^(\s*)```(.*)$")
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: Doc files whose doctest examples another test module runs (that module's path).
DELEGATED = {
    "docs/architecture.md": "tests/test_architecture_doc.py",
    "docs/collections.md": "tests/collections/test_docs.py",
    "docs/diagnostics.md": "tests/diagnostics/test_docs.py",
    "docs/gpu.md": "tests/gpu/test_gpu_docs.py",
    "docs/organisation.md": "tests/org/test_org_docs.py",
    "docs/phases.md": "tests/org/test_phases.py",
    "docs/pools.md": "tests/pools/test_docs_config_stats.py",
    "docs/retention.md": "tests/org/test_retention.py",
    "docs/scratch.md": "tests/org/test_scratch.py",
}


@dataclass
class Block:
    path: str            # relative to the repository root
    line: int            # of the opening fence, 1-based
    lang: str
    attrs: dict[str, str]
    body: str
    skip: str | None     # the reason of a skip marker
    fenced: bool = True
    doctest: bool = field(init=False)

    def __post_init__(self) -> None:
        self.doctest = self.lang == "python" and any(
            ln.lstrip().startswith(">>>") for ln in self.body.splitlines())

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """The code blocks of a Markdown file, in order: fenced ones, and indented ones (four
    spaces after a blank line, outside a fence)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = path.relative_to(ROOT).as_posix()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m and lines[i].startswith("    ") and lines[i].strip() \
                and (i == 0 or not lines[i - 1].strip()):
            # An indented code block: its language is python when it holds doctest examples.
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            body = "\n".join(ln[4:] for ln in lines[i:end]).rstrip("\n") + "\n"
            lang = "python" if body.lstrip().startswith(">>>") else ""
            blocks.append(Block(rel, i + 1, lang, {}, body, _marker(lines, i), fenced=False))
            i = end
            continue
        if not m:
            i += 1
            continue
        indent, info = m.group(1), m.group(2).split()
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"{rel}:{i + 1}: code block never closed"
        body = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln
                         for ln in lines[i + 1:end]) + "\n"
        attrs = dict(a.split("=", 1) for a in info[1:] if "=" in a)
        blocks.append(Block(rel, i + 1, info[0] if info else "", attrs, body,
                            _marker(lines, i)))
        i = end + 1
    return blocks


def _marker(lines: list[str], i: int) -> str | None:
    """The reason of a skip marker on the last non-blank line before line ``i``."""
    prev = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
    marker = SKIP_RE.match(prev)
    return marker.group(1).strip() if marker else None


BLOCKS = {p.relative_to(ROOT).as_posix(): parse_blocks(p) for p in DOCS}


def _delegated(block: Block) -> bool:
    return block.doctest and block.path in DELEGATED


def test_every_block_runs_or_says_why():
    problems = []
    for blocks in BLOCKS.values():
        for b in blocks:
            if b.skip is not None:
                if len(b.skip.split()) < 4:
                    problems.append(f"{b.where}: the skip reason {b.skip!r} is too short")
                if b.lang in RUN:
                    problems.append(f"{b.where}: a {b.lang} block runs: drop the skip marker")
            elif b.lang not in RUN + NEVER_RUN:
                problems.append(
                    f"{b.where}: a block in {b.lang or 'no language'!r} is not run: write it as "
                    f"{', '.join(RUN)} or text (output), or mark the line before it "
                    "'<!-- doc-test: skip: REASON -->'")
            if b.attrs and not (b.lang == "python" and set(b.attrs) == {"file"}):
                problems.append(f"{b.where}: unknown block attributes {b.attrs}")
    assert problems == [], "\n".join(problems)


def test_the_scan_finds_the_blocks():
    """The parser sees what a reader sees (a miscounted fence would hide blocks)."""
    for path in DOCS:
        fences = sum(1 for ln in path.read_text(encoding="utf-8").splitlines()
                     if FENCE_RE.match(ln))
        blocks = BLOCKS[path.relative_to(ROOT).as_posix()]
        assert 2 * sum(b.fenced for b in blocks) == fences, path
    assert any(not b.fenced and b.doctest for b in BLOCKS["docs/organisation.md"])
    assert sum(b.doctest for bs in BLOCKS.values() for b in bs) > 50
    assert any(b.lang == "console" for b in BLOCKS["docs/lint.md"])


@pytest.mark.parametrize("doc", sorted(DELEGATED))
def test_delegated_examples_are_run_by_their_test(doc):
    blocks = BLOCKS[doc]
    assert any(b.doctest for b in blocks), f"{doc} has no doctest examples to delegate"
    source = (ROOT / DELEGATED[doc]).read_text(encoding="utf-8")
    name = doc.split("/")[-1]
    assert re.search(rf"[\"']{re.escape(name)}[\"']", source), f"{DELEGATED[doc]} never names {doc}"
    assert "doctest.testfile(" in source or ".get_doctest(" in source


# -- running ------------------------------------------------------------------------------------

def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _run_console(block: Block, cwd: Path) -> None:
    steps: list[tuple[str, list[str]]] = []
    for ln in block.body.splitlines():
        if ln.startswith("$ "):
            steps.append((ln[2:], []))
        else:
            assert steps, f"{block.where}: output before the first '$ ' command"
            steps[-1][1].append(ln)
    assert steps, f"{block.where}: a console block without a '$ ' command"
    checker = doctest.OutputChecker()
    for command, want_lines in steps:
        run = subprocess.run(command, shell=True, cwd=cwd, env=_env(), capture_output=True,
                             text=True, timeout=600)
        got = run.stdout + run.stderr
        assert run.returncode != 127 and "Traceback (most recent call last)" not in got, \
            f"{block.where}: `{command}` failed:\n{got}"
        want = "\n".join(want_lines) + "\n" if want_lines else ""
        assert checker.check_output(want, got, OPTIONS), \
            f"{block.where}: `{command}` printed\n{got}\ninstead of\n{want}"


def _run_toml(block: Block, cwd: Path) -> None:
    from packaging.requirements import Requirement

    from framealloc.lint.config import load_config

    data = tomllib.loads(block.body)
    if "lint" in data.get("tool", {}).get("framealloc", {}):
        cfg = cwd / "pyproject.toml"
        cfg.write_text(block.body, encoding="utf-8")
        try:
            load_config(cfg)
        finally:
            cfg.unlink()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = set(pyproject["project"]["optional-dependencies"])
    for dep in data.get("project", {}).get("dependencies", []):
        req = Requirement(dep)
        if req.name == "framealloc":
            assert req.extras <= extras, f"{block.where}: no extras {req.extras - extras}"
            assert req.specifier.contains(framealloc.__version__, prereleases=True), \
                f"{block.where}: {dep} excludes this version, {framealloc.__version__}"


def _run_python(block: Block, namespace: dict, cwd: Path) -> None:
    if "file" in block.attrs:
        target = cwd / block.attrs["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.body, encoding="utf-8")
        return
    if block.doctest:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.body, namespace, block.where, block.path, block.line)
        runner = doctest.DocTestRunner(optionflags=OPTIONS)
        runner.run(test, clear_globs=False)
        assert runner.failures == 0, f"{block.where}: {runner.failures} example(s) failed"
        return
    exec(compile(block.body, block.where, "exec"), namespace)


RUNNABLE = {doc: [b for b in blocks if b.lang in RUN and not _delegated(b)]
            for doc, blocks in BLOCKS.items()}


@pytest.mark.parametrize("doc", sorted(d for d, bs in RUNNABLE.items() if bs))
def test_doc_blocks_run(doc, tmp_path, monkeypatch, capsys):
    """The runnable blocks of ``doc``, in order, in one namespace and one scratch directory."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"doc_{Path(doc).stem}"}
    for block in RUNNABLE[doc]:
        if block.lang == "console":
            _run_console(block, tmp_path)
        elif block.lang == "toml":
            _run_toml(block, tmp_path)
        else:
            _run_python(block, namespace, tmp_path)
