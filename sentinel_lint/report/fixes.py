"""What `fix` prints: the guards it rewrote (or would), a diff, what is left and why."""
from __future__ import annotations

import difflib
from collections import Counter

from ..diagnostics import printable
from ..source import split_lines
from .text import error_line


def diff(outcome) -> str:
    return "".join("".join(difflib.unified_diff(split_lines(f.original), split_lines(f.fixed),
                                                fromfile=f"a/{f.path}", tofile=f"b/{f.path}"))
                   for f in outcome.files)


def applied(outcome, *, would: bool) -> str:
    verb = "Would fix" if would else "Fixed"
    return "".join(f"{verb} {printable(d.path)}:{d.line}:{d.col + 1}: {d.code} {d.message}\n"
                   for d in outcome.applied)


def remaining(outcome) -> str:
    return "".join(f"{printable(d.path)}:{d.line}:{d.col + 1}: {d.code} {d.message} "
                   f"(not fixed: {d.unfixable_reason or 'unsafe'})\n" for d in outcome.remaining)


def errors(outcome) -> str:
    return "".join(error_line(e) + "\n" for e in outcome.analysis.errors + outcome.errors)


def summary(outcome, *, write: bool, elapsed: float) -> str:
    s = outcome.analysis.stats
    by_rule = Counter(d.code for d in outcome.analysis.diagnostics)
    rules = ", ".join(f"{c}: {n}" for c, n in sorted(by_rule.items())) or "none"
    verb = "fixed" if write else "would fix"
    return (f"{s.files_seen} files scanned, {s.files_skipped_by_prefilter} skipped by prefilter, "
            f"{s.files_with_kernels} with kernels, {len(outcome.files)} {verb} ({len(outcome.applied)} guards); "
            f"findings by rule: {rules}; {elapsed:.2f}s\n")
