"""Inline suppression comments: ``# noqa``, ``# noqa: FA601,FA6`` and ``# framealloc: allow FA601``.

A comment suppresses a diagnostic reported on any physical line of the same logical line (so a
comment at the end of a multi-line call works). Listed codes are prefixes: ``FA6`` or ``FA6xx``
silences the whole lifetime family. A bare ``# noqa`` silences every code, as in flake8; codes of
other tools in the list (``# noqa: E501``) do not silence framealloc codes.
"""
from __future__ import annotations

import io
import re
import tokenize

__all__ = ["Suppressions"]

_NOQA_RE = re.compile(r"#\s*noqa\b(?P<sep>\s*:\s*(?P<codes>[A-Za-z0-9_,\s]+))?", re.IGNORECASE)
_ALLOW_RE = re.compile(r"#\s*framealloc\s*:\s*allow\b\s*(?P<codes>[A-Za-z0-9_,\s]*)",
                       re.IGNORECASE)
_TOKEN_RE = re.compile(r"[A-Za-z]+[0-9]*[Xx]*")
_ALL = "*"


def _prefixes(codes: str) -> set[str]:
    out = set()
    for tok in _TOKEN_RE.findall(codes):
        tok = tok.upper().rstrip("X")
        if tok.startswith("FA"):
            out.add(tok)
    return out


def _comment_rules(comment: str) -> set[str]:
    rules: set[str] = set()
    for m in _NOQA_RE.finditer(comment):
        if m.group("sep") is None:
            rules.add(_ALL)
        else:
            rules |= _prefixes(m.group("codes"))
    for m in _ALLOW_RE.finditer(comment):
        rules |= _prefixes(m.group("codes")) or {_ALL}
    return rules


class Suppressions:
    """The suppression comments of one source text."""

    def __init__(self, source: str, *, noqa: bool = True) -> None:
        """Scan ``source``; with ``noqa=False`` only ``# framealloc: allow`` comments count (the
        flake8 plugin leaves ``# noqa`` to flake8 itself)."""
        self._rules: dict[int, set[str]] = {}
        self._logical: dict[int, tuple[int, int]] = {}
        self._noqa = noqa
        try:
            self._scan_tokens(source)
        except (tokenize.TokenError, SyntaxError, IndentationError):
            self._scan_lines(source)

    def _add(self, line: int, comment: str) -> None:
        if not self._noqa:
            comment = _NOQA_RE.sub("", comment)
        rules = _comment_rules(comment)
        if rules:
            self._rules.setdefault(line, set()).update(rules)

    def _scan_tokens(self, source: str) -> None:
        start = None
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                self._add(tok.start[0], tok.string)
            if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if start is None and tok.type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
                start = tok.start[0]
            if tok.type == tokenize.NEWLINE and start is not None:
                for line in range(start, tok.end[0] + 1):
                    self._logical[line] = (start, tok.end[0])
                start = None

    def _scan_lines(self, source: str) -> None:
        for number, text in enumerate(source.splitlines(), 1):
            if "#" in text:
                self._add(number, text[text.index("#"):])

    def is_suppressed(self, code: str, line: int) -> bool:
        """Whether a diagnostic ``code`` reported on ``line`` is silenced by a comment."""
        first, last = self._logical.get(line, (line, line))
        for number in range(first, last + 1):
            rules = self._rules.get(number)
            if rules and (_ALL in rules or any(code.startswith(r) for r in rules)):
                return True
        return False
