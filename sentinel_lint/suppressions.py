"""``# sentinel-lint: ignore[SL001] reason`` on a line, ``# sentinel-lint: ignore-file[...]`` for a file.

Applied after the checks; a suppression that matched nothing becomes an SL100 diagnostic.
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from .diagnostics import Diagnostic

_PATTERN = re.compile(r"#\s*sentinel-lint:\s*(ignore-file|ignore)(?:\[([A-Za-z0-9_,\s]*)\])?(?:\s+(.*))?$")


@dataclass
class Suppression:
    line: int
    col: int
    file_level: bool
    codes: frozenset[str]  # empty: every code
    reason: str
    used: set = field(default_factory=set)

    def covers(self, code: str) -> bool:
        return not self.codes or code in self.codes


def parse_suppressions(text: str) -> list[Suppression]:
    if "sentinel-lint:" not in text:
        return []
    found = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        match = _PATTERN.search(tok.string)
        if not match:
            continue
        kind, codes, reason = match.groups()
        code_set = frozenset(c.strip() for c in (codes or "").split(",") if c.strip())
        found.append(Suppression(tok.start[0], tok.start[1], kind == "ignore-file", code_set, (reason or "").strip()))
    return found


def apply_suppressions(diagnostics: list[Diagnostic], suppressions: list[Suppression], path: str,
                       report_unused: bool) -> list[Diagnostic]:
    kept = []
    for diag in diagnostics:
        hit = None
        for sup in suppressions:
            if not sup.covers(diag.code):
                continue
            if sup.file_level or diag.line <= sup.line <= max(diag.end_line, diag.line):
                hit = sup
                break
        if hit is None:
            kept.append(diag)
        else:
            hit.used.add(diag.code)
    if report_unused:
        for sup in suppressions:
            if sup.used:
                unused_codes = sorted(sup.codes - sup.used)
                if not unused_codes:
                    continue
                what = ", ".join(unused_codes)
            else:
                what = ", ".join(sorted(sup.codes)) or "all codes"
            scope = "file-level suppression" if sup.file_level else "suppression"
            kept.append(Diagnostic(path, sup.line, sup.col, "SL100", f"unused {scope} ({what}): nothing to suppress"))
    return kept
