"""Reading and writing source text exactly: encoding (PEP 263, BOM), line endings, positions → offsets."""
from __future__ import annotations

import io
import re
import tokenize

from .diagnostics import FileError

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def detect_encoding(data: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return encoding


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
