"""Rule examples as tests (Fixit's harness, with ruff's re-lint of the fixed output).

Every rule documents ``invalid`` examples (code it must flag) and ``valid`` ones (code it must leave alone).  For a
flagged example this checks the message (``expect``), the text the finding points at (``span``), the whole text
after ``fix`` (``fixed``; with ``--unsafe-fixes``, and the fix's safety against ``safe``: a safe fix is applied by a
plain ``fix``, an unsafe one only with ``--unsafe-fixes``), and that the fixed text no longer fires the rule.

Used by tests/test_rule_examples.py; usable by a rule pack's own tests too.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .checks.base import Example, Rule


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_example(directory: Path, example: Example) -> Path:
    """A one-file project holding the example, configured with its settings; returns the file."""
    lines = ["[tool.sentinel-lint]"] + [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in example.settings]
    (directory / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = directory / "example.py"
    path.write_text(example.code, encoding="utf-8")
    return path


def _findings(directory: Path, code: str):
    from . import api
    from .config import load_settings

    settings = load_settings([directory])
    result = api.check([directory], settings, jobs=1, cache_dir=None)
    assert not result.errors, f"the example does not analyse cleanly: {result.errors}"
    return [d for d in result.diagnostics if d.code == code]


def _span(text: str, d) -> str:
    lines = text.splitlines(keepends=True)
    start = sum(len(l) for l in lines[: d.line - 1]) + d.col
    end = sum(len(l) for l in lines[: (d.end_line or d.line) - 1]) + (d.end_col if d.end_line else d.col)
    return text[start:end]


def _fixed(directory: Path, *, unsafe: bool) -> str:
    from . import api
    from .config import load_settings

    path = directory / "example.py"
    api.fix([directory], load_settings([directory]), unsafe=unsafe, jobs=1, cache_dir=None)
    return path.read_text(encoding="utf-8")


def check_example(rule: Rule, example: Example, flagged: bool) -> None:
    """Raise AssertionError, saying what differs, unless the rule treats the example as documented."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_example(directory, example)
        found = _findings(directory, rule.code)
        label = f"{rule.code} example {example.note!r}"
        if not flagged:
            assert not found, f"{label} must not be flagged: {[d.message for d in found]}"
            return
        assert found, f"{label} is not flagged"
        first = found[0]
        assert example.expect in first.message, f"{label}: message {first.message!r} lacks {example.expect!r}"
        if example.span:
            assert _span(example.code, first) == example.span, \
                f"{label}: points at {_span(example.code, first)!r}, not {example.span!r}"
        if example.fixed is None:
            assert all(d.fix is None for d in found), f"{label}: documents no fix, but a fix is offered"
            return
        assert first.fix is not None, f"{label}: no fix offered"
        assert first.fix.safe == example.safe, f"{label}: fix safety is {first.fix.safe}, documented {example.safe}"
        plain = _fixed(directory, unsafe=False)
        assert plain == (example.fixed if example.safe else example.code), \
            f"{label}: `fix` without --unsafe-fixes {'did not apply' if example.safe else 'applied'} the fix"
        fixed = _fixed(directory, unsafe=True)
        assert fixed == example.fixed, f"{label}: fixed text differs:\n{fixed}"
        again = _findings(directory, rule.code)
        assert not again, f"{label}: the fixed text still fires: {[d.message for d in again]}"
