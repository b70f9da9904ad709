"""Apply fixes: verified edits, re-parse before writing, and a write that keeps everything but the changed bytes.

What a fix may rely on, and how each is enforced here:

* **The text it changes is the text that was analysed.**  Every edit carries the exact original text of its span
  (the whole comparison, not just its operator).  Under a lock on the file's directory the file is read again and an
  edit applies only where that text is still there; otherwise the file is *stale* (edited since the analysis, or
  fixed by a concurrent fixer) and the caller re-analyses it.  Two fixers at once therefore serialise per
  directory, and the second finds nothing left to do.
* **The result parses** (with ``ast`` and with libcst) or nothing is written.
* **Only the changed bytes change**: the encoding, line endings and every other byte are kept; so are the mode, the
  owner and group, a symbolic link (the file it points to is fixed) and a hard link (a file with several names is
  rewritten in place, after the checks, so all its names see the fix).  A read-only file is refused unless the
  caller allows it.  Otherwise the new text goes to a temporary file in the same directory that replaces the old
  one with a rename, so an interrupted fix leaves either the old or the new file.
"""
from __future__ import annotations

import ast
import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostic, Edit
from .source import decode_source, detect_encoding, line_offsets, split_lines

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; the stale-text check still holds
    fcntl = None

MAX_FIX_BYTES = 64 * 1024 * 1024


class FixError(Exception):
    """This file cannot be fixed (the message says why); the other files still are."""


class StaleText(FixError):
    """The file no longer holds the text an edit was computed for."""


@dataclass
class FileFix:
    path: str  # as displayed
    original: str
    fixed: str
    applied: list[Diagnostic] = field(default_factory=list)


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (positions as the parsers count them) to ``text``; each edit's ``original`` must
    be exactly what its span holds now, or StaleText is raised and nothing is applied."""
    lines = split_lines(text)
    offsets = line_offsets(lines)

    def offset(line: int, col: int) -> int:
        if not 1 <= line <= len(lines) or col > len(lines[line - 1]):
            raise StaleText(f"edit position {line}:{col + 1} is not in the file")
        return offsets[line - 1] + col

    spans = sorted((offset(e.line, e.col), offset(e.end_line, e.end_col), e) for e in edits)
    pieces, cursor = [], 0
    for start, end, edit in spans:
        if start < cursor:
            raise FixError("overlapping edits")
        if text[start:end] != edit.original:
            raise StaleText(f"line {edit.line} no longer reads `{edit.original}`")
        pieces += [text[cursor:start], edit.text]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def fix_text(path: str, text: str, diagnostics: list[Diagnostic], *, unsafe: bool = False) -> FileFix:
    """The fixed text of one file.  Edits of one diagnostic are applied together or not at all; raises StaleText if
    the text is not the one the diagnostics were computed on, FixError if the result would not parse."""
    chosen: list[Diagnostic] = []
    edits: list[Edit] = []
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for diag in diagnostics:
        if diag.fix is None or (not diag.fix.safe and not unsafe):
            continue
        spans = [((e.line, e.col), (e.end_line, e.end_col)) for e in diag.fix.edits]
        if any(a < d and c < b for a, b in spans for c, d in taken):  # two findings on one comparison
            continue
        taken += spans
        chosen.append(diag)
        edits.extend(diag.fix.edits)
    if not edits:
        return FileFix(path, text, text)
    fixed = apply_edits(text, edits)
    try:  # never write what does not parse
        import libcst as cst

        cst.parse_module(fixed)
        ast.parse(fixed)
    except Exception as exc:  # noqa: BLE001 - any parser failure means: do not write
        raise FixError(f"the fixed text does not parse ({type(exc).__name__}: {exc}); nothing written") from None
    return FileFix(path, text, fixed, chosen)


@contextlib.contextmanager
def directory_lock(directory: str):
    """An exclusive advisory lock on a directory: fixers of the same files take turns."""
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_source(path: str, display: str) -> tuple[str, bytes]:
    """Text and bytes of a regular file (never a FIFO or a device), bounded in size."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FixError(f"cannot read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise FixError("not a regular file")
        data = fh.read(MAX_FIX_BYTES + 1)
    if len(data) > MAX_FIX_BYTES:
        raise FixError(f"file too large to fix (> {MAX_FIX_BYTES} bytes)")
    text, error = decode_source(data, display)
    if text is None:
        raise FixError(error.reason)
    return text, data


def fix_file(target: Path, display: str, diagnostics: list[Diagnostic], *, unsafe: bool = False, write: bool = True,
             allow_read_only: bool = False) -> FileFix:
    """Fix one file on disk (or, with ``write=False``, only compute the fix from its current text)."""
    real = os.path.realpath(target)  # a symbolic link: fix the file it points to, keep the link
    with directory_lock(os.path.dirname(real)):
        text, original = read_source(real, display)
        outcome = fix_text(display, text, diagnostics, unsafe=unsafe)
        if write and outcome.fixed != text:
            write_preserving(Path(real), outcome.fixed, original, allow_read_only=allow_read_only)
    return outcome


def write_preserving(target: Path, text: str, original_bytes: bytes, *, allow_read_only: bool = False) -> None:
    """Write ``text`` in the file's own encoding, keeping mode, owner, group and hard links."""
    encoding = detect_encoding(original_bytes)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise FixError(f"the fixed text cannot be written in the file's encoding {encoding}: {exc}") from None
    info = os.stat(target)
    if not info.st_mode & 0o222 and not allow_read_only:
        raise FixError("file is read-only; not changed (pass --allow-read-only to fix it anyway)")
    if info.st_nlink > 1:
        _write_in_place(target, data)  # a rename would split the hard link: every name must see the fix
        return
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".sentinel-lint.tmp")
    except OSError as exc:
        raise FixError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), stat.S_IMODE(info.st_mode))
            if hasattr(os, "fchown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(fh.fileno(), info.st_uid, info.st_gid)
                except PermissionError:
                    # Only root may give a file away: rewrite it in place instead, which keeps its owner.
                    os.unlink(tmp)
                    tmp = None
        if tmp is None:
            _write_in_place(target, data)
            return
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise FixError(f"cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _write_in_place(target: Path, data: bytes) -> None:
    try:
        with open(target, "r+b") as fh:
            fh.write(data)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise FixError(f"cannot write: {exc.strerror or exc}") from None
