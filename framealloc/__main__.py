"""The ``framealloc`` command: ``python -m framealloc <command>``.

Commands: ``lint`` (static analysis), ``explain CODE``, ``report SNAPSHOT -o HTML``, ``list``,
``init``. Each command module
registers its own subparser (see :func:`build_parser`). Importing this module loads nothing but
argparse; command modules load when the parser is built, and none of them imports numba.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main", "build_parser", "COMMANDS"]


def _register_explain(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "explain", help="explain a diagnostic code (runtime or lint)",
        description="Print the explanation of an FAnnn code: what it means and what to do.")
    p.add_argument("code", help="a code such as FA601 or FA008")
    p.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    from framealloc.errors import explain

    try:
        print(explain(args.code))
    except KeyError as exc:
        print(f"framealloc explain: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def _register_report(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report", help="render a snapshot as a self-contained HTML report",
        description="Read a snapshot written by Snapshot.save (JSON; nothing in it is executed) "
                    "and write one HTML file that needs no network.")
    p.add_argument("snapshot", help="the snapshot file (JSON)")
    p.add_argument("-o", "--output", default="report.html", help="the HTML file to write")
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from framealloc.errors import SnapshotError
    from framealloc.snapshot import Snapshot

    try:
        snap = Snapshot.load(args.snapshot)
    except (SnapshotError, OSError) as exc:
        print(f"framealloc report: {exc}", file=sys.stderr)
        return 2
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(snap.to_html())
    print(f"framealloc report: wrote {args.output}")
    return 0


def _lint_command(name: str) -> Callable[[Any], None]:
    def register(subparsers: Any) -> None:
        from framealloc.lint import cli

        getattr(cli, f"register_{name}")(subparsers)
    return register


#: Subcommand registrars in help order; add new commands here.
COMMANDS: list[Callable[[Any], None]] = [
    _lint_command("lint"),
    _register_explain,
    _register_report,
    _lint_command("list"),
    _lint_command("init"),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="framealloc", description="framealloc command-line tools.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from framealloc import __version__

        print(f"framealloc {__version__}")
        return 0
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
