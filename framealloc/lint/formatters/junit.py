"""JUnit XML (Jenkins, GitLab, Azure and other CI test reporters).

One ``<testcase>`` per finding, failed with ``type`` set to the code, plus one passing
``<testcase>`` per clean file so that a clean run still shows the files checked.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..engine import LintReport

__all__ = ["render"]

_SUITE = "framealloc-lint"


def render(report: LintReport) -> str:
    """A ``<testsuites>`` document with one ``<testsuite>``."""
    failing = {d.path for d in report.diagnostics}
    clean = [f for f in report.files if f not in failing]
    tests = len(report.diagnostics) + len(clean) + len(report.failures)
    counts = {"tests": str(tests), "failures": str(len(report.diagnostics)),
              "errors": str(len(report.failures))}
    root = ET.Element("testsuites", {"name": _SUITE, **counts, "time": "0"})
    suite = ET.SubElement(root, "testsuite", {"name": _SUITE, **counts, "skipped": "0",
                                              "time": "0"})
    for d in report.diagnostics:
        case = ET.SubElement(suite, "testcase", {
            "classname": d.path, "name": f"{d.code} {d.location()}", "file": d.path,
            "line": str(d.line), "time": "0"})
        failure = ET.SubElement(case, "failure", {"message": f"{d.code} {d.title}",
                                                  "type": d.code})
        failure.text = f"{d.location()}: {d.code} [{d.severity}] {d.message}"
    for path in clean:
        ET.SubElement(suite, "testcase", {"classname": path, "name": "framealloc lint",
                                          "file": path, "time": "0"})
    for problem in report.failures:
        case = ET.SubElement(suite, "testcase", {"classname": problem.split(":", 1)[0],
                                                 "name": "framealloc lint", "time": "0"})
        error = ET.SubElement(case, "error", {"message": "could not analyse", "type": "parse"})
        error.text = problem
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
