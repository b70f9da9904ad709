"""Machine output: one JSON document, schema ``sentinel-lint/1`` (documented in docs/json-schema.md)."""
from __future__ import annotations

import json

from .. import __version__


def emit(result, **_) -> str:
    s = result.stats
    doc = {
        "schema": "sentinel-lint/1",
        "version": __version__,
        "diagnostics": [d.to_json() for d in result.diagnostics],
        "errors": [e.to_json() for e in result.errors],
        "summary": {
            "findings": len(result.diagnostics),
            "fixable": sum(d.fixable for d in result.diagnostics),
            "files_seen": s.files_seen,
            "files_skipped_by_prefilter": s.files_skipped_by_prefilter,
            "files_with_kernels": s.files_with_kernels,
            "kernels": s.kernels,
            "elapsed_seconds": round(s.elapsed, 3),
        },
    }
    return json.dumps(doc, indent=2) + "\n"
