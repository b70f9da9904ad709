"""Apply fixes: byte-exact edits, re-parse before writing, atomic write keeping encoding, line endings and mode."""
from __future__ import annotations

import ast
import difflib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from .diagnostics import Diagnostic, Edit
from .source import decode_source, detect_encoding, line_offsets, split_lines


class FixError(Exception):
    pass


@dataclass
class FileFix:
    path: str
    original: str
    fixed: str
    applied: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                split_lines(self.original), split_lines(self.fixed), fromfile=f"a/{self.path}", tofile=f"b/{self.path}"
            )
        )


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (positions as the parsers count them) to ``text``."""
    lines = split_lines(text)
    offsets = line_offsets(lines)

    def offset(line: int, col: int) -> int:
        if line - 1 >= len(lines):
            raise FixError(f"edit position {line}:{col} is past the end of the file")
        return offsets[line - 1] + col

    spans = sorted(((offset(e.line, e.col), offset(e.end_line, e.end_col), e.text) for e in edits), reverse=True)
    previous_start = None
    for start, end, replacement in spans:
        if previous_start is not None and end > previous_start:
            raise FixError("overlapping edits")
        text = text[:start] + replacement + text[end:]
        previous_start = start
    return text


def fix_file(path: str, text: str, diagnostics: list[Diagnostic], *, unsafe: bool = False) -> FileFix:
    """The fixed text of one file.  Edits of one diagnostic are applied together or not at all."""
    chosen: list[Diagnostic] = []
    edits: list[Edit] = []
    taken: set[tuple[int, int]] = set()
    for diag in diagnostics:
        if diag.fix is None or (not diag.fix.safe and not unsafe):
            continue
        keys = {(e.line, e.col) for e in diag.fix.edits}
        if keys & taken:  # two findings on the same token: the next pass will see what is left
            continue
        taken |= keys
        chosen.append(diag)
        edits.extend(diag.fix.edits)
    if not edits:
        return FileFix(path, text, text)
    fixed = apply_edits(text, edits)
    try:  # never write what does not parse
        cst.parse_module(fixed)
        ast.parse(fixed)
    except (cst.ParserSyntaxError, SyntaxError, ValueError) as exc:
        raise FixError(f"{path}: the fixed text does not parse ({exc}); nothing written") from None
    return FileFix(path, text, fixed, chosen)


def write_atomically(target: Path, text: str, original_bytes: bytes) -> None:
    """Write ``text`` in the file's own encoding through a temporary file and a rename; keep its mode."""
    encoding = detect_encoding(original_bytes)
    data = text.encode(encoding)
    mode = stat.S_IMODE(os.stat(target).st_mode)
    directory = target.parent
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".sentinel-lint.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_text(target: Path, display: str) -> tuple[str, bytes]:
    data = target.read_bytes()
    text, error = decode_source(data, display)
    if text is None:
        raise FixError(f"{display}: {error.reason}")
    return text, data
