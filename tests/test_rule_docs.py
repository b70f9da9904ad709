"""Every rule is documented (its examples run in tests/test_rule_examples.py); ``sentinel-lint rules`` lists every
rule and ``sentinel-lint explain`` prints the same documentation."""
from __future__ import annotations

import subprocess
import sys

import pytest

from sentinel_lint.checks import RULES


def test_every_rule_is_documented_with_examples():
    assert set(RULES) == {"SL001", "SL003", "SL100"}
    for code, rule in RULES.items():
        assert rule.code == code
        assert rule.name and rule.summary and rule.what.strip() and rule.why.strip() and rule.fix_safety.strip()
        assert rule.invalid, f"{code} has no invalid example"
        assert rule.valid, f"{code} has no valid example"


def sentinel_lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinel_lint", *args], check=False, capture_output=True, text=True,
                          timeout=60)


def test_rules_lists_every_code():
    proc = sentinel_lint("rules")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == sorted(RULES)
    for line, (code, rule) in zip(lines, sorted(RULES.items())):
        assert rule.name in line and rule.summary in line


@pytest.mark.parametrize("code", sorted(RULES))
def test_explain_prints_the_documentation(code: str):
    proc = sentinel_lint("explain", code)
    assert proc.returncode == 0
    rule = RULES[code]
    assert proc.stdout == rule.explain()
    assert proc.stdout.startswith(f"{code} ({rule.name})\n")
    for heading in ("## What it does", "## Why is this bad?", "## Example (flagged)", "## Use instead",
                    "## Fix safety"):
        assert heading in proc.stdout
    for example in rule.invalid + rule.valid:
        assert example.code.strip("\n") in proc.stdout


def test_explain_is_case_insensitive():
    proc = sentinel_lint("explain", "sl001")
    assert proc.returncode == 0
    assert proc.stdout == RULES["SL001"].explain()


@pytest.mark.parametrize("code", ["SL999", "E902", "nonsense", ""])
def test_explain_unknown_code_exits_2(code: str):
    proc = sentinel_lint("explain", code)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "unknown rule" in proc.stderr and "SL001" in proc.stderr
    assert "Traceback" not in proc.stderr
