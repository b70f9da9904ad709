"""Reading and writing source text exactly: encoding (PEP 263, BOM), line endings, positions → offsets."""
from __future__ import annotations

import io
import os
import re
import stat
import tokenize

from .diagnostics import FileError

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


MAX_SOURCE_BYTES = 8 * 1024 * 1024  # larger "source" files are generated data, not kernels: reported, not read


class NotReadable(OSError):
    """A path that is not read as source: not a regular file (a FIFO, a device), or too large."""


def read_source_bytes(path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """The bytes of a regular file, at most ``limit`` of them: a FIFO is never opened for a blocking read, a link
    to a device never read until memory runs out."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if not stat.S_ISREG(mode):
            kind = "FIFO" if stat.S_ISFIFO(mode) else "device" if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) \
                else "socket" if stat.S_ISSOCK(mode) else "not a file"
            raise NotReadable(f"not a regular file ({kind}); skipped")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise NotReadable(f"file too large to analyse (more than {limit} bytes); skipped")
    return data


def detect_encoding(data: bytes) -> str:
    """PEP 263 / BOM encoding of Python source; lines end at \\n, \\r\\n or a lone \\r (a file with old Mac line
    endings is one "line" to tokenize's reader, whose cookie it would then never find)."""
    lines = iter(_first_lines(data, 2))
    encoding, _ = tokenize.detect_encoding(lambda: next(lines, b""))
    return encoding


def _first_lines(data: bytes, count: int) -> list[bytes]:
    out, start = [], 0
    while len(out) < count and start < len(data):
        match = _LINE_END.search(data, start)
        end = match.end() if match else len(data)
        out.append(data[start:end])
        start = end
    return out


_LINE_END = re.compile(rb"\r\n|\r|\n")


def decode_source(data: bytes, path: str) -> tuple[str | None, FileError | None]:
    """The text of a Python file, or why it has none (binary, undecodable)."""
    if b"\x00" in data:
        return None, FileError(path, 1, 0, "binary file (contains NUL bytes)")
    try:
        return data.decode(detect_encoding(data)), None
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return None, FileError(path, 1, 0, f"cannot decode: {exc}")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split where Python's tokenizer splits (\\n, \\r\\n, \\r only)."""
    return _LINE.findall(text)


def line_offsets(lines: list[str]) -> list[int]:
    offsets, total = [], 0
    for line in lines:
        offsets.append(total)
        total += len(line)
    offsets.append(total)
    return offsets
