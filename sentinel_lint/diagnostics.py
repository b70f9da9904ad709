"""What a check returns: diagnostics with their fixes, as plain data (reporters print them, the fixer applies them)."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import codec
from .conventions import Convention, Evidence


def printable(path: str) -> str:
    """A path as one line of text output: control characters (a newline in a file name) escaped."""
    if path.isprintable():
        return path
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in path)


@dataclass(frozen=True)
class Edit:
    """Replace the text between two positions (1-based lines, 0-based columns) of one file."""

    line: int
    col: int
    end_line: int
    end_col: int
    text: str
    original: str  # what the span holds now: the fixer applies the edit only where it still does


@dataclass(frozen=True)
class Fix:
    edits: tuple[Edit, ...]
    safe: bool
    description: str


@dataclass
class Diagnostic:
    path: str
    line: int
    col: int  # 0-based, as Python's parsers count; reporters show col + 1
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    fix: Fix | None = None
    unfixable_reason: str = ""
    convention: Convention | None = None
    related: list[Evidence] = field(default_factory=list)

    @property
    def fixable(self) -> bool:
        """A safe fix exists (unsafe ones are applied only with --unsafe-fixes, as in ruff)."""
        return self.fix is not None and self.fix.safe

    def sort_key(self):
        return (self.path, self.line, self.col, self.code, self.message)

    def to_json(self) -> dict:
        out = {
            "path": self.path,
            "line": self.line,
            "column": self.col + 1,
            "end_line": self.end_line or self.line,
            "end_column": (self.end_col or self.col) + 1,
            "code": self.code,
            "message": self.message,
            "fixable": self.fixable,
            "fix_available": self.fix is not None,
        }
        if self.fix is not None:
            out["fix"] = {
                "safe": self.fix.safe,
                "description": self.fix.description,
                "edits": [
                    {"line": e.line, "column": e.col + 1, "end_line": e.end_line, "end_column": e.end_col + 1,
                     "text": e.text, "original": e.original}
                    for e in self.fix.edits
                ],
            }
        elif self.unfixable_reason:
            out["unfixable_reason"] = self.unfixable_reason
        if self.convention is not None:
            out["convention"] = self.convention.to_json()
        if self.related:
            out["related"] = [e.to_json() for e in self.related]
        return out


@dataclass(frozen=True)
class FileError:
    """A file that could not be analysed (syntax error, bad encoding, unreadable): reported, never fatal."""

    path: str
    line: int
    col: int
    reason: str

    def to_json(self) -> dict:
        return {"path": self.path, "line": self.line, "column": self.col + 1, "reason": self.reason}


codec.register(Edit, Fix, Diagnostic, FileError)
