"""``# sentinel-lint: ignore[SL001] reason`` on a line, ``# sentinel-lint: ignore-file[...]`` for a file.

Applied after the checks; a suppression that matched nothing becomes an SL100 diagnostic.

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
UNUSED_CODE = "SL100"


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


def apply_suppressions(diagnostics: list[Diagnostic], suppressions: list[Suppression], path: str,
                       report_unused: bool, selected: frozenset[str] | set[str] | None = None) -> list[Diagnostic]:
    """Drop the diagnostics a suppression covers; with ``report_unused``, add an SL100 for each suppression (or
    code in one) that covered nothing.  ``selected``: the codes that ran, when known; a code that did not run
    cannot be judged unused, so it is not reported."""
    from .checks import RULES

    kept = []
    for diag in diagnostics:
        hit = None
        for sup in suppressions:
            if not sup.covers(diag.code):
                continue
            if sup.file_level or sup.covers_lines(diag.line, diag.end_line or diag.line):
                hit = sup
                break
        if hit is None:
            kept.append(diag)
        else:
            hit.used.add(diag.code)
    if not report_unused:
        return kept
    ran = set(selected) if selected is not None else set(RULES)
    for sup in suppressions:
        if UNUSED_CODE in sup.codes:
            continue  # it names SL100 itself: the author asked not to be told it is unused
        scope = "file-level suppression" if sup.file_level else "suppression"
        if not sup.codes:
            if sup.used or not (ran - {UNUSED_CODE}):
                continue
            what = "all codes"
        else:
            unknown = sorted(c for c in sup.codes if c not in RULES)
            unused = sorted(c for c in sup.codes - sup.used if c in RULES and c in ran)
            parts = [", ".join(unused)] if unused else []
            if unknown:
                parts.append(f"unknown rule code{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
            if not parts:
                continue
            what = "; ".join(parts)
        silencer = next((s for s in suppressions if s is not sup and s.covers(UNUSED_CODE)
                         and (s.file_level or s.covers_lines(sup.line, sup.line))), None)
        if silencer is not None:
            silencer.used.add(UNUSED_CODE)
            continue
        kept.append(Diagnostic(path, sup.line, sup.col, UNUSED_CODE, f"unused {scope} ({what}): nothing to suppress",
                               unfixable_reason="delete the comment, or the stale codes in it, by hand"))
    return kept
