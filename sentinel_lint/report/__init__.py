"""Reporters: one emitter per output format.  Each takes a RunResult and returns text; none analyse anything."""
from __future__ import annotations

from . import github, json_format, sarif, text

EMITTERS = {"text": text.emit, "json": json_format.emit, "sarif": sarif.emit, "github": github.emit}

__all__ = ["EMITTERS"]
