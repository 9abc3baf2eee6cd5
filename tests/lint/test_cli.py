"""The `framealloc` command: lint options, exit codes, explain, list, init."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from framealloc.__main__ import main
from framealloc.lint.cli import INIT_TEMPLATE
from framealloc.lint.codes import CODES
from framealloc.lint.config import load_config, toml_module

from .helpers import FIXTURES, REPO

ESCAPE = "class C:\n    def f(self, alloc):\n        self.a = alloc.frame_array(3)\n"
NJIT = ("from numba import njit\nimport numpy as np\n@njit\ndef k(n):\n    for i in range(n):\n"
        "        np.empty(3)\n")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory as the working directory (no pyproject.toml above it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_errors_exit_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.py").write_text(ESCAPE)
    code, out, _ = run(capsys, "lint", "a.py")
    assert code == 1
    assert out.startswith("a.py:3:9: FA601 [error] ")
    assert "Found 1 error and 0 warnings in 1 file." in out


def test_warnings_exit_0_unless_denied(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "k.py").write_text(NJIT)
    assert run(capsys, "lint", "k.py")[0] == 0
    assert run(capsys, "lint", "--deny", "k.py")[0] == 1
    assert run(capsys, "lint", "--deny-code", "FA6", "k.py")[0] == 1
    assert run(capsys, "lint", "--deny-code", "FA7,FA8", "k.py")[0] == 0


def test_clean_run_and_default_path(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "ok.py").write_text("x = 1\n")
    code, out, _ = run(capsys, "lint")
    assert code == 0 and out == "No framealloc findings in 1 file.\n"


def test_select_and_ignore(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.py").write_text(ESCAPE + NJIT)
    assert "FA601" not in run(capsys, "lint", "--select", "FA7", "a.py")[1]
    code, out, _ = run(capsys, "lint", "--select", "FA6", "--ignore", "FA601", "a.py")
    assert code == 0 and "FA607" in out and "FA601" not in out
    code, out, _ = run(capsys, "lint", "--select", "fa601", "a.py")
    assert code == 1 and "FA607" not in out


def test_show_all_lists_every_use(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.py").write_text("def f(alloc):\n    with alloc.frame():\n"
                                  "        a = alloc.frame_array(3)\n"
                                  "    print(a, a.sum(), a[0])\n")
    code, out, _ = run(capsys, "lint", "a.py")
    assert code == 1 and out.count("FA605") == 1 and "a.py:4:11: FA605" in out
    code, out, _ = run(capsys, "lint", "--show-all", "a.py")
    assert code == 1 and out.count("FA605") == 3
    assert [c for c in ("a.py:4:11:", "a.py:4:14:", "a.py:4:23:") if c in out] == [
        "a.py:4:11:", "a.py:4:14:", "a.py:4:23:"]


def test_exclude_and_default_excludes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for rel in ("src/a.py", "src/gen/b_pb2.py", "build/c.py", ".venv/d.py", "src/e.txt"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(ESCAPE)
    out = run(capsys, "lint", ".")[1]
    reported = {line.split(":")[0] for line in out.splitlines()[:-1]}
    assert reported == {"src/a.py", "src/gen/b_pb2.py"}
    out = run(capsys, "lint", "--exclude", "*_pb2.py", ".")[1]
    assert "b_pb2" not in out and "src/a.py" in out
    out = run(capsys, "lint", "--exclude", "src/gen", "--exclude", "src/a.py", ".")[1]
    assert "No framealloc findings in 0 files." in out
    assert "src/a.py" in run(capsys, "lint", "--exclude", "src/a.py", "src/a.py")[1]


def test_config_file_is_honoured(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.framealloc.lint]\nignore = ["FA601"]\nexclude = ["skip*"]\n')
    (project / "a.py").write_text(ESCAPE)
    (project / "skip_me.py").write_text(NJIT)
    assert run(capsys, "lint", ".")[0] == 0
    code, out, _ = run(capsys, "lint", "--no-config", ".")
    assert code == 1 and "FA601" in out and "FA607" in out


def test_usage_errors_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "bad.py").write_text("def f(:\n")
    code, _, err = run(capsys, "lint", "bad.py")
    assert code == 2 and "bad.py:1: not valid Python" in err
    code, _, err = run(capsys, "lint", "missing.py")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "lint", "--select", "FA999", ".")
    assert code == 2 and "framealloc list" in err
    (project / "pyproject.toml").write_text('[tool.framealloc.lint]\nbogus = 1\n')
    code, _, err = run(capsys, "lint", ".")
    assert code == 2 and "unknown key 'bogus'" in err


def test_output_file_and_formats(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.py").write_text(ESCAPE)
    assert run(capsys, "lint", "--format", "json", "-o", "r.json", "a.py")[1] == ""
    data = json.loads((project / "r.json").read_text())
    assert [d["code"] for d in data["diagnostics"]] == ["FA601"]
    for fmt in ("sarif", "junit", "github", "text"):
        code, out, _ = run(capsys, "lint", "--format", fmt, "a.py")
        assert code == 1 and "FA601" in out, fmt


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "fa601")
    assert code == 0 and out.startswith("FA601 frame data stored on an object\n")
    code, out, _ = run(capsys, "explain", "FA001")
    assert code == 0 and "Raised as: framealloc.FrameStateError" in out
    code, _, err = run(capsys, "explain", "FA999")
    assert code == 2 and "unknown framealloc code" in err


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["code"] for r in rows] == sorted(CODES)
    families = {r["family"] for r in rows}
    assert families == {"threading", "budgets", "lifetime", "async", "architecture"}
    out = run(capsys, "list", "--all")[1]
    listed = {line.split()[0] for line in out.splitlines()}
    assert {"FA001", "FA601"} <= listed


def test_init(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "game"\n')
    code, out, _ = run(capsys, "init")
    assert code == 0 and "wrote" in out
    text = (project / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "game"\n\n[tool.framealloc.lint]')
    toml = toml_module()
    assert toml is not None, "the test extra installs tomli on Python 3.10"
    assert toml.loads(text)["project"]["name"] == "game"
    assert load_config(project / "pyproject.toml").select == ("FA",)
    code, _, err = run(capsys, "init")
    assert code == 1 and "already has" in err
    assert run(capsys, "init", "--stdout")[1] == INIT_TEMPLATE
    fresh = project / "new" / "pyproject.toml"
    fresh.parent.mkdir()
    assert run(capsys, "init", "--path", str(fresh))[0] == 0
    assert fresh.read_text() == INIT_TEMPLATE


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 2 and "lint" in out and "explain" in out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_python_dash_m(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "framealloc", "lint", "--format", "json",
         str(FIXTURES / "fa605_fire.py")],
        capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert {d["code"] for d in json.loads(proc.stdout)["diagnostics"]} == {"FA605"}


def test_import_stays_light() -> None:
    code = ("import sys, framealloc; before = 'numba' in sys.modules; "
            "import framealloc.__main__, framealloc.lint, framealloc.lint.cli; "
            "from framealloc.__main__ import build_parser; build_parser(); "
            "print(before, 'numba' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), timeout=120)
    before, after = proc.stdout.split()
    assert before == after, "the CLI and the linter must not import numba"
