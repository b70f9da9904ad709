"""GitHub Actions workflow commands: ``::error file=…,line=…,col=…,title=…::message``."""
from __future__ import annotations


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def emit(result, **_) -> str:
    out = []
    for e in result.errors:
        props = f"file={_escape_prop(e.path)},line={max(e.line, 1)},col={e.col + 1}"
        out.append(f"::error {props},title=E902::{_escape_data(e.reason)}")
    for d in result.diagnostics:
        props = f"file={_escape_prop(d.path)},line={max(d.line, 1)},col={d.col + 1}"
        if d.end_line:
            props += f",endLine={d.end_line},endColumn={d.end_col + 1}"
        out.append(f"::error {props},title={_escape_prop(d.code)}::{_escape_data(d.code + ' ' + d.message)}")
    return "\n".join(out) + ("\n" if out else "")
