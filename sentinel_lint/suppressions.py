"""``# sentinel-lint: ignore[SL001] reason`` on a line, ``# sentinel-lint: ignore-file[...]`` for a file.

Applied after the checks; a suppression that matched nothing is reported by SL100 (checks/sl100_unused_suppression.py).

A line suppression covers the whole statement it is written in: for a guard that spans several lines (an ``if (...)``
whose condition is wrapped, a ``tl.store(..., mask=...)`` call), the comment may sit on any of its lines.  A comment
on a line of its own covers only that line (there is no "next line" form).  Codes are case-insensitive; a reason may
follow the directive after a space, ``:`` or ``-``.  ``ignore-file`` may appear anywhere in the file.
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from .diagnostics import Diagnostic

_PATTERN = re.compile(
    r"#\s*sentinel-lint:\s*(?P<kind>ignore-file|ignore)(?:\[(?P<codes>[^\]]*)\])?(?P<rest>(?:[\s:\-–—#].*)?)$",
    re.IGNORECASE,
)
_SKIP = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)


@dataclass
class Suppression:
    line: int
    col: int
    file_level: bool
    codes: frozenset[str]  # empty: every code
    reason: str
    used: set = field(default_factory=set)
    # The statement (logical line) the comment ends: it covers diagnostics anywhere in first_line..last_line.
    first_line: int = 0
    last_line: int = 0

    def covers(self, code: str) -> bool:
        return not self.codes or code in self.codes

    def covers_lines(self, start: int, end: int) -> bool:
        first = self.first_line or self.line
        last = max(self.last_line or self.line, first)
        return start <= last and first <= max(end, start)


def _statement_ranges(tokens) -> dict[int, tuple[int, int]]:
    """Token index of each comment → (first, last) line of the statement it is part of; own-line comments cover
    their own line."""
    ranges: dict[int, tuple[int, int]] = {}
    start = None
    pending: list[int] = []
    last_line = 1
    for i, tok in enumerate(tokens):
        last_line = tok.end[0]
        if tok.type == tokenize.COMMENT:
            if start is None:
                ranges[i] = (tok.start[0], tok.start[0])
            else:
                pending.append(i)
        elif tok.type == tokenize.NEWLINE or tok.type == tokenize.ENDMARKER:
            for j in pending:
                ranges[j] = (start if start is not None else tokens[j].start[0], tok.start[0])
            pending, start = [], None
        elif tok.type not in _SKIP and start is None:
            start = tok.start[0]
    for j in pending:  # an unterminated statement at the end of the file
        ranges[j] = (start or tokens[j].start[0], last_line)
    return ranges


def parse_suppressions(text: str) -> list[Suppression]:
    if "sentinel-lint:" not in text.lower():
        return []
    found = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    ranges = _statement_ranges(tokens)
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.COMMENT:
            continue
        match = _PATTERN.search(tok.string)
        if not match:
            continue
        codes = match.group("codes") or ""
        code_set = frozenset(c.strip().upper() for c in codes.split(",") if c.strip())
        reason = match.group("rest").strip().lstrip(":-–—").strip()
        first, last = ranges.get(i, (tok.start[0], tok.start[0]))
        found.append(Suppression(tok.start[0], tok.start[1], match.group("kind").lower() == "ignore-file", code_set,
                                 reason, first_line=first, last_line=last))
    return found


def apply_suppressions(diagnostics: list[Diagnostic], suppressions: list[Suppression]) -> list[Diagnostic]:
    """The diagnostics no suppression covers; each suppression records the codes it silenced (``used``).

    Suppressions are looked up by line: a file with thousands of them (a tree adopted with --add-suppressions)
    costs one lookup per diagnostic, not one scan of every comment."""
    order = {id(sup): i for i, sup in enumerate(suppressions)}  # the first in the file wins, as it reads
    file_level = [sup for sup in suppressions if sup.file_level]
    by_line: dict[int, list[Suppression]] = {}
    for sup in suppressions:
        if not sup.file_level:
            first = sup.first_line or sup.line
            for line in range(first, max(sup.last_line or sup.line, first) + 1):
                by_line.setdefault(line, []).append(sup)
    kept = []
    for diag in diagnostics:
        candidates = [sup for sup in file_level if sup.covers(diag.code)]
        for line in range(diag.line, max(diag.end_line or diag.line, diag.line) + 1):
            candidates += [sup for sup in by_line.get(line, ()) if sup.covers(diag.code)]
        if not candidates:
            kept.append(diag)
        else:
            min(candidates, key=lambda sup: order[id(sup)]).used.add(diag.code)
    return kept
