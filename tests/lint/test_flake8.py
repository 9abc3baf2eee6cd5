"""The flake8 plugin, run as flake8 users run it: a subprocess."""
from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

from framealloc.lint.codes import CODES

from .helpers import FIXTURES, REPO, expected

_LINE_RE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>FA\d{3}) ")


def flake8(*args: str, cwd: Path = FIXTURES) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_entry_point_is_registered() -> None:
    eps = importlib.metadata.entry_points(group="flake8.extension")
    assert "framealloc.lint.flake8_plugin:FrameAllocChecker" in {
        ep.value for ep in eps if ep.name == "FA"}


def test_flake8_reports_every_code_where_marked() -> None:
    files = sorted(p.name for p in FIXTURES.glob("fa*.py"))
    proc = flake8("--select", "FA", *files)
    assert proc.returncode == 1, proc.stderr
    got = set()
    for line in proc.stdout.splitlines():
        m = _LINE_RE.match(line)
        assert m, line
        got.add((m["path"], int(m["line"]), m["code"]))
    want = {(name, line, code) for name in files for line, code in expected(FIXTURES / name)}
    assert got == want
    assert {code for _, _, code in got} == set(CODES)


def test_flake8_noqa_and_allow_comments(tmp_path: Path) -> None:
    src = ("class C:\n    def f(self, alloc):\n"
           "        self.a = alloc.frame_array(3)\n"
           "        self.b = alloc.frame_array(3)  # noqa: FA601\n"
           "        self.c = alloc.frame_array(3)  # framealloc: allow FA601\n")
    (tmp_path / "m.py").write_text(src)
    proc = flake8("--select", "FA", "m.py", cwd=tmp_path)
    assert proc.stdout.split(":")[:3] == ["m.py", "3", "9"], proc.stdout + proc.stderr
    assert proc.stdout.count("FA601") == 1
    assert flake8("--select", "FA", "--extend-ignore", "FA601", "m.py",
                  cwd=tmp_path).returncode == 0
