"""Output formats: SARIF validated against the official 2.1.0 schema, JUnit, GitHub, JSON."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from framealloc.lint import config_for, lint_paths
from framealloc.lint.codes import CODES, SEVERITY
from framealloc.lint.engine import LintReport
from framealloc.lint.formatters import FORMATTERS, render
from framealloc.lint.model import Diagnostic

from .helpers import FIXTURES

SCHEMA = json.loads((Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def report() -> LintReport:
    files = sorted(FIXTURES.glob("fa*.py"))
    return lint_paths(files, config_for(FIXTURES))


def odd_report() -> LintReport:
    """Awkward content: notebook cells, characters that need escaping, an unreadable file."""
    d = Diagnostic("dir with space/nb.ipynb", 4, 2, "FA605", 'use of "a" <after> & 100%\nend',
                   "error", cell=3)
    return LintReport([d], ["dir with space/nb.ipynb", "clean.py"], ["broken.py:1: not valid"])


def sarif_errors(text: str) -> list[str]:
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = validator.iter_errors(json.loads(text))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_sarif_validates(report: LintReport) -> None:
    assert report.diagnostics
    assert sarif_errors(render(report, "sarif")) == []
    assert sarif_errors(render(odd_report(), "sarif")) == []
    assert sarif_errors(render(LintReport(), "sarif")) == []


def test_sarif_schema_catches_mistakes(report: LintReport) -> None:
    log = json.loads(render(report, "sarif"))
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert sarif_errors(json.dumps(log))


def test_sarif_content(report: LintReport) -> None:
    run = json.loads(render(report, "sarif"))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(CODES)
    for rule in rules:
        assert rule["shortDescription"]["text"] == CODES[rule["id"]].title
        full = rule["fullDescription"]["text"]
        assert full and "What to do" not in full
        assert "What to do:" in rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] == SEVERITY[rule["id"]]
    assert len(run["results"]) == len(report.diagnostics)
    for result, diag in zip(run["results"], report.diagnostics):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == diag.code
        assert result["level"] == diag.severity
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith(Path(diag.path).name)
        assert loc["region"] == {"startLine": diag.line, "startColumn": diag.col + 1}
    odd = json.loads(render(odd_report(), "sarif"))["runs"][0]["results"][0]
    assert odd["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "dir%20with%20space/nb.ipynb"
    assert odd["properties"] == {"notebookCell": 3}


def test_junit(report: LintReport) -> None:
    for rep in (report, odd_report(), LintReport()):
        root = ET.fromstring(render(rep, "junit"))
        assert root.tag == "testsuites"
        suites = root.findall("testsuite")
        assert len(suites) == 1
        suite = suites[0]
        cases = suite.findall("testcase")
        failures = suite.findall("testcase/failure")
        errors = suite.findall("testcase/error")
        for node in (root, suite):
            assert int(node.get("tests")) == len(cases)
            assert int(node.get("failures")) == len(failures) == len(rep.diagnostics)
            assert int(node.get("errors")) == len(errors) == len(rep.failures)
        for case in cases:
            assert case.get("name") and case.get("classname")
            assert len(list(case)) <= 1, "at most one failure per testcase"
        for failure in failures:
            assert failure.get("type") in CODES and failure.get("message")
    odd = ET.fromstring(render(odd_report(), "junit"))
    assert odd.find("testsuite/testcase/failure").text.startswith(
        "dir with space/nb.ipynb:cell_3:4:3: FA605 [error] use of \"a\" <after> & 100%\nend")
    passing = [c for c in odd.iter("testcase") if not list(c)]
    assert [c.get("classname") for c in passing] == ["clean.py"]


def test_github_annotations() -> None:
    out = render(odd_report(), "github").splitlines()
    assert out[0] == ("::error file=dir with space/nb.ipynb,line=4,col=3,"
                      "title=FA605 frame data used after its frame ended or was rolled back "
                      "(cell 3)"
                      "::use of \"a\" <after> & 100%25%0Aend")
    assert out[1] == "::error title=framealloc lint::broken.py:1: not valid"
    warn = Diagnostic("a,b:c.py", 1, 0, "FA607", "m", "warning")
    assert render(LintReport([warn], ["a,b:c.py"]), "github") == \
        "::warning file=a%2Cb%3Ac.py,line=1,col=1,title=FA607 heap allocation inside a loop of " \
        "an @njit function::m\n"


def test_json(report: LintReport) -> None:
    data = json.loads(render(report, "json"))
    assert data["version"] == 1
    assert data["summary"] == {"files": len(report.files), "errors": report.errors,
                               "warnings": report.warnings, "failures": []}
    first, diag = data["diagnostics"][0], report.diagnostics[0]
    assert first == {"path": diag.path, "line": diag.line, "column": diag.col + 1, "cell": None,
                     "code": diag.code, "severity": diag.severity, "title": diag.title,
                     "message": diag.message}


def test_text_summary(report: LintReport) -> None:
    out = render(report, "text").splitlines()
    assert len(out) == len(report.diagnostics) + 1
    assert out[-1].startswith(f"Found {report.errors} errors and {report.warnings} warnings in "
                              f"{len(report.files)} files.")


def test_every_format_is_registered() -> None:
    assert set(FORMATTERS) == {"text", "json", "sarif", "junit", "github"}
