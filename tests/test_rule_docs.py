"""Every rule's documentation is executable: its ``invalid`` examples must fire it, its ``valid`` ones must not;
``sentinel-lint rules`` lists every rule and ``sentinel-lint explain`` prints the same documentation."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel_lint.checks import RULES
from sentinel_lint.config import load_settings
from sentinel_lint.engine import run

EXAMPLES = [
    pytest.param(code, kind, i, example, id=f"{code}-{kind}-{i}")
    for code, rule in sorted(RULES.items())
    for kind, examples in (("invalid", rule.invalid), ("valid", rule.valid))
    for i, example in enumerate(examples)
]


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


def write_example(directory: Path, example) -> Path:
    lines = ["[tool.sentinel-lint]"] + [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in example.settings]
    (directory / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "example.py").write_text(example.code, encoding="utf-8")
    return directory


def test_every_rule_is_documented_with_examples():
    assert set(RULES) == {"SL001", "SL003", "SL100"}
    for code, rule in RULES.items():
        assert rule.code == code
        assert rule.name and rule.summary and rule.what.strip() and rule.why.strip() and rule.fix_safety.strip()
        assert rule.invalid, f"{code} has no invalid example"
        assert rule.valid, f"{code} has no valid example"


def codes_from_engine(project: Path) -> list[str]:
    settings = load_settings([project])
    assert settings.config_path == project / "pyproject.toml"
    result = run([project], settings, jobs=1, cache_dir=None)
    assert not result.errors, result.errors
    return [d.code for d in result.diagnostics]


def codes_from_cli(project: Path) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", "--output-format", "json",
                           "--exit-zero", "."], cwd=project, check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert not doc["errors"], doc["errors"]
    return [d["code"] for d in doc["diagnostics"]]


@pytest.mark.parametrize("via", ["engine", "cli"])
@pytest.mark.parametrize("code, kind, index, example", EXAMPLES)
def test_examples(tmp_path: Path, code: str, kind: str, index: int, example, via: str):
    project = write_example(tmp_path, example)
    codes = (codes_from_engine if via == "engine" else codes_from_cli)(project)
    if kind == "invalid":
        assert code in codes, f"{code} invalid example {index} ({example.note!r}) does not fire {code}: {codes}"
    else:
        assert code not in codes, f"{code} valid example {index} ({example.note!r}) fires {code}"


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
