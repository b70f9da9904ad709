"""The `conventions` report: what reaches each kernel index parameter, and the chain that proves it."""
from __future__ import annotations

import json

from ..conventions import ParamConvention
from ..diagnostics import printable

MAX_CHAINS = 3  # chains shown per parameter in text (JSON has them all)


def to_json(pc: ParamConvention) -> dict:
    conv = pc.convention
    return {
        "path": pc.path,
        "kernel": pc.kernel,
        "param": pc.param,
        "launched_as": pc.launched_as or None,
        "source": pc.status,
        "convention": conv.to_json() if conv else None,
        "mixed": [{"value": v, "chain": [e.to_json() for e in r.chain]} for v, r in pc.mixed],
    }


def emit_json(conventions: list[ParamConvention]) -> str:
    return json.dumps({"schema": "sentinel-lint-conventions/1", "parameters": [to_json(pc) for pc in conventions]},
                      indent=2) + "\n"


def emit_text(conventions: list[ParamConvention]) -> str:
    out = []
    for pc in conventions:
        conv = pc.convention
        head = f"{printable(pc.path)}: {pc.kernel}({pc.param})"
        if conv is None:
            out.append(f"{head}: {pc.status}")
            continue
        out.append(f"{head}: {conv.summary()} [{pc.status}: {conv.origin}]")
        for chain in conv.chains[:MAX_CHAINS]:
            for i, e in enumerate(chain):
                arrow = "  " if i == 0 else "  → "
                if not e.path:  # a field link made by name, between two of the steps around it
                    out.append(f"    {arrow}(linked by field name: {e.what})")
                    continue
                loc = f"{printable(e.path)}:{e.line}" if e.line else printable(e.path)
                out.append(f"    {arrow}{loc}: {e.what}{' (by name)' if e.by_name else ''}")
        if len(conv.chains) > MAX_CHAINS:
            out.append(f"    … and {len(conv.chains) - MAX_CHAINS} more chains")
    if not conventions:
        out.append("No kernel index parameters found.")
    return "\n".join(out) + "\n"
