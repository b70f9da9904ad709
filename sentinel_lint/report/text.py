"""Human output: ``path:line:col: CODE message`` (ruff's shape), a summary line, colour on a terminal."""
from __future__ import annotations

from collections import Counter

from ..diagnostics import printable

_BOLD, _RED, _CYAN, _DIM, _RESET = "\033[1m", "\033[31m", "\033[36m", "\033[2m", "\033[0m"


def error_line(error, paint=lambda code, s: s) -> str:
    """One file error, as every command prints it: ``path:line:col: E902 reason``."""
    return f"{paint(_BOLD, printable(error.path))}:{error.line}:{error.col + 1}: {paint(_RED, 'E902')} {error.reason}"


def emit(result, *, color: bool = False, statistics: bool = False, quiet: bool = False) -> str:
    def paint(code: str, s: str) -> str:
        return f"{code}{s}{_RESET}" if color else s

    out = [error_line(error, paint) for error in result.errors]
    if statistics:
        counts = Counter(d.code for d in result.diagnostics)
        fixable = Counter(d.code for d in result.diagnostics if d.fixable)
        for code, n in sorted(counts.items()):
            out.append(f"{n:5d}\t{code}\t[{'*' if fixable[code] else ' '}] {fixable[code]} fixable")
    else:
        for d in result.diagnostics:
            mark = paint(_CYAN, " [*]") if d.fixable else ""
            out.append(f"{paint(_BOLD, printable(d.path))}:{d.line}:{d.col + 1}: {paint(_RED, d.code)}{mark} {d.message}")
    if not quiet:
        n = len(result.diagnostics)
        fixable = sum(d.fixable for d in result.diagnostics)
        if n or result.errors:
            parts = [f"Found {n} finding{'s' if n != 1 else ''}"]
            if fixable:
                parts.append(f"{fixable} fixable with `sentinel-lint fix`")
            if result.errors:
                parts.append(f"{len(result.errors)} file{'s' if len(result.errors) != 1 else ''} could not be analysed")
            out.append(paint(_DIM, "; ".join(parts) + "."))
        else:
            s = result.stats
            out.append(paint(_DIM, f"All checks passed ({s.files_seen} files, {s.kernels} kernels)."))
    return "\n".join(out) + ("\n" if out else "")
