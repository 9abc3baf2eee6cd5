"""Notebooks: code cells analysed together, IPython syntax neutralised, findings per cell."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from framealloc.__main__ import main
from framealloc.lint import LintConfig, lint_paths


def notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    path.write_text(json.dumps({
        "cells": [{"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True),
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, src in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_state_flows_across_cells(tmp_path: Path) -> None:
    nb = notebook(tmp_path / "demo.ipynb", [
        ("markdown", "# Demo\n"),
        ("code", "%matplotlib inline\nimport numpy as np\nalloc = make()\n"),
        ("code", "alloc.begin_frame()\npos = alloc.frame_array(10, np.float32)\n"
                 "!echo shell\npos?\nalloc.end_frame()\n"),
        ("code", "%%timeit\nx = 1\n"),
        ("code", "%%bash\necho not python\n"),
        ("code", "def broken(:\n"),
        ("code", "for i in range(3):\n    %time pass\nprint(pos.sum())\n"),
    ])
    report = lint_paths([nb], LintConfig(root=tmp_path))
    assert report.failures == []
    assert [(d.cell, d.line, d.code) for d in report.diagnostics] == [(7, 3, "FA605")]
    assert report.diagnostics[0].location().endswith("demo.ipynb:cell_7:3:7")
    assert any("cell 5: cell magic %%bash skipped" in n for n in report.notes)
    assert any("cell 6: not valid Python" in n for n in report.notes)


def test_cli_finds_notebooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    notebook(tmp_path / "nb.ipynb", [("code", "sim.begin_frame()\n")])
    (tmp_path / ".ipynb_checkpoints").mkdir()
    notebook(tmp_path / ".ipynb_checkpoints" / "nb-checkpoint.ipynb",
             [("code", "x.begin_frame()\n")])
    assert main(["lint", "."]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("nb.ipynb:cell_1:1:1: FA606")
    assert "checkpoint" not in out
