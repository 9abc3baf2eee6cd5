"""scripts/test.sh, run from a scratch copy whose set-up step is a stub and whose "python" only
records its arguments: what it passes to pytest, its exit status, what it tells the user, and
that CI refuses --quick."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$(dirname "$0")/pytest-args"
exit "${FAKE_RC:-0}"
"""
# The real setup-env.sh makes .venv and installs framealloc; the stub names the fake python.
STUB_SETUP = 'export FRAMEALLOC_PY="$PWD/fakepy"\n'


@pytest.fixture
def checkout(tmp_path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "test.sh", tmp_path / "scripts" / "test.sh")
    (tmp_path / "scripts" / "setup-env.sh").write_text(STUB_SETUP)
    fake = tmp_path / "fakepy"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return tmp_path


def _run(checkout: Path, *args: str, ci: str = "", rc: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, CI=ci, FAKE_RC=str(rc))
    return subprocess.run(["bash", str(checkout / "scripts" / "test.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _pytest_args(checkout: Path) -> list[str]:
    return (checkout / "pytest-args").read_text().splitlines()


def test_every_test_by_default_and_arguments_go_to_pytest(checkout):
    run = _run(checkout, "tests/core", "-x")
    assert run.returncode == 0, run.stderr
    assert _pytest_args(checkout) == ["-m", "pytest", "tests/core", "-x"]
    for step in ("[1/3]", "[2/3]", "[3/3]"):
        assert f"==> {step}" in run.stdout
    assert "about 15 min" in run.stdout and "==> total" in run.stdout


def test_quick_deselects_the_slow_tests(checkout):
    run = _run(checkout, "--quick", "tests/core")
    assert run.returncode == 0, run.stderr
    assert _pytest_args(checkout) == ["-m", "pytest", "-m", "not slow", "tests/core"]
    assert "--quick" in run.stdout


@pytest.mark.parametrize("ci", ["true", "TRUE", "1", "yes"])
def test_ci_refuses_quick_before_any_set_up(checkout, ci):
    run = _run(checkout, "--quick", ci=ci)
    assert run.returncode == 2
    assert "--quick" in run.stderr and "CI" in run.stderr
    assert "==>" not in run.stdout and not (checkout / "pytest-args").exists()


def test_ci_runs_everything(checkout):
    run = _run(checkout, ci="true")
    assert run.returncode == 0 and _pytest_args(checkout) == ["-m", "pytest"]


@pytest.mark.parametrize("rc", [1, 2, 3, 4])
def test_pytest_failures_pass_through(checkout, rc):
    assert _run(checkout, rc=rc).returncode == rc


def test_no_tests_collected_fails(checkout):
    run = _run(checkout, "-k", "nothing_matches", rc=5)
    assert run.returncode == 1 and "collected no tests" in run.stderr


def test_help_says_what_it_runs(checkout):
    run = _run(checkout, "--help")
    assert run.returncode == 0 and not (checkout / "pytest-args").exists()
    assert "--quick" in run.stdout and "CI" in run.stdout and "#" not in run.stdout
