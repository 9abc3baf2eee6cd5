"""Command-line front end of the linter: ``framealloc lint``, ``list`` and ``init``.

Each ``register_*`` function adds one subcommand to an :mod:`argparse` subparsers object and sets
its handler (``args.handler(args) -> exit code``). Heavy imports happen inside the handlers.

Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 bad usage, configuration or a file
that cannot be analysed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register_lint", "register_list", "register_init", "INIT_TEMPLATE", "EXIT_OK",
           "EXIT_FINDINGS", "EXIT_USAGE"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "json", "sarif", "junit", "github")

INIT_TEMPLATE = """\
[tool.framealloc.lint]
# Codes or families to check (FA601, FA6, FA6xx; "FA" is everything). All checks are on by default.
select = ["FA"]
# Codes or families to skip, e.g. ["FA301"].
ignore = []
# true: report every warning as an error (exit code 1); or a list of codes/families.
deny = false
# Globs of files and directories not searched (relative to this file, or a file name).
exclude = []
# Per-code severity, e.g. { FA607 = "error" }.
severity = {}
# Declared allocation tags (globs allowed, e.g. "physics::*"); FA801 reports other tags.
tags = []

[tool.framealloc.lint.tag-modules]
# Tag -> globs of the modules allowed to use it (FA802), e.g.
# physics = ["mygame.physics*", "src/mygame/physics/*"]

[tool.framealloc.lint.per-file-ignores]
# Glob -> codes or families skipped in matching files, e.g.
# "tests/*" = ["FA6"]
"""


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def register_lint(subparsers: Any) -> None:
    """Add ``lint [PATHS]``."""
    p = subparsers.add_parser(
        "lint", help="check Python files and notebooks for frame-memory mistakes",
        description="Check .py files and .ipynb notebooks for frame memory that escapes its frame, "
                    "unmatched frames, heap allocation in njit loops, frame data crossing threads "
                    "or await, unbounded allocation and tag misuse. All checks are on by default.")
    p.add_argument("paths", nargs="*", type=Path, default=[Path(".")],
                   help="files or directories (default: the current directory)")
    p.add_argument("--select", action="append", metavar="CODES",
                   help="only these codes/families, comma-separated (FA601,FA7); replaces the "
                        "configured select")
    p.add_argument("--ignore", action="append", metavar="CODES",
                   help="skip these codes/families (added to the configured ignore)")
    p.add_argument("--deny", action="store_true",
                   help="report every warning as an error (exit code 1)")
    p.add_argument("--deny-code", action="append", metavar="CODES",
                   help="report these codes/families as errors")
    p.add_argument("--exclude", action="append", metavar="GLOB",
                   help="skip files/directories matching GLOB when searching directories "
                        "(repeatable)")
    p.add_argument("--show-all", action="store_true",
                   help="report every use of frame data after its frame ended (by default: the "
                        "first use in each statement)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write the report to FILE instead of standard output")
    cfg = p.add_mutually_exclusive_group()
    cfg.add_argument("--config", type=Path, metavar="PYPROJECT",
                     help="read [tool.framealloc.lint] from this file instead of the nearest "
                          "pyproject.toml")
    cfg.add_argument("--no-config", action="store_true", help="ignore pyproject.toml files")
    p.set_defaults(handler=run_lint)


def _load_config(args: argparse.Namespace) -> Any:
    from .config import LintConfig, config_for, load_config

    if args.no_config:
        config = LintConfig(root=Path.cwd().resolve())
    elif args.config is not None:
        config = load_config(args.config)
    else:
        config = config_for(args.paths[0] if args.paths else Path("."))
    changes: dict[str, Any] = {}
    if args.select:
        changes["select"] = tuple(_split(args.select))
    if args.ignore:
        changes["ignore"] = (*config.ignore, *_split(args.ignore))
    if args.deny:
        changes["deny"] = True
    if args.show_all:
        changes["show_all"] = True
    if args.deny_code:
        changes["deny_codes"] = (*config.deny_codes, *_split(args.deny_code))
    return config.with_overrides(**changes) if changes else config


def run_lint(args: argparse.Namespace) -> int:
    """Handler of ``lint``."""
    from .config import ConfigFileError
    from .engine import lint_paths
    from .formatters import render
    from .selectors import SelectorError

    try:
        config = _load_config(args)
        report = lint_paths(args.paths, config, _split(args.exclude))
    except (ConfigFileError, SelectorError, FileNotFoundError) as exc:
        print(f"framealloc lint: {exc}", file=sys.stderr)
        return EXIT_USAGE
    output = render(report, args.format)
    if args.output is not None:
        args.output.write_text(output, encoding="utf-8")
    else:
        sys.stdout.write(output)
    for note in report.notes:
        print(f"framealloc lint: note: {note}", file=sys.stderr)
    for failure in report.failures:
        print(f"framealloc lint: {failure}", file=sys.stderr)
    if report.failures:
        return EXIT_USAGE
    return EXIT_FINDINGS if report.errors else EXIT_OK


def register_list(subparsers: Any) -> None:
    """Add ``list``."""
    p = subparsers.add_parser("list", help="list the lint codes (with --all: every FA code)",
                              description="List diagnostic codes with severity and title.")
    p.add_argument("--all", action="store_true",
                   help="also list the runtime error codes (FA0xx, FA1xx, FA4xx, FA5xx)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Handler of ``list``."""
    import json

    from framealloc.errors import all_codes

    from .codes import CODES, SEVERITY, family_of

    codes = all_codes() if args.all else dict(sorted(CODES.items()))
    rows = [{"code": c, "severity": SEVERITY.get(c, "runtime"),
             "family": family_of(c) if c in CODES else "runtime", "title": info.title}
            for c, info in codes.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['code']}  {r['severity']:<8} {r['family']:<13} {r['title']}")
    return EXIT_OK


def register_init(subparsers: Any) -> None:
    """Add ``init``."""
    p = subparsers.add_parser(
        "init", help="add a [tool.framealloc.lint] section to pyproject.toml",
        description="Append a commented [tool.framealloc.lint] section to pyproject.toml "
                    "(created if missing). Refuses if the section already exists.")
    p.add_argument("--path", type=Path, default=Path("pyproject.toml"),
                   help="the pyproject.toml to write (default: ./pyproject.toml)")
    p.add_argument("--stdout", action="store_true", help="print the section instead of writing")
    p.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace) -> int:
    """Handler of ``init``."""
    if args.stdout:
        sys.stdout.write(INIT_TEMPLATE)
        return EXIT_OK
    path: Path = args.path
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if "[tool.framealloc.lint]" in existing:
        print(f"framealloc init: {path} already has a [tool.framealloc.lint] section; edit it "
              "there (or run `framealloc init --stdout` to see the template)", file=sys.stderr)
        return EXIT_FINDINGS
    if not existing or existing.endswith("\n\n"):
        sep = ""
    else:
        sep = "\n" if existing.endswith("\n") else "\n\n"
    path.write_text(existing + sep + INIT_TEMPLATE, encoding="utf-8")
    print(f"framealloc init: wrote [tool.framealloc.lint] to {path}")
    return EXIT_OK
