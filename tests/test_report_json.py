"""``--output-format json``: the documented ``sentinel-lint/1`` document (docs/json-schema.md)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "data" / "sentinel-lint-report-1.schema.json").read_text(encoding="utf-8"))
DOC = (ROOT / "docs" / "json-schema.md").read_text(encoding="utf-8")

BUGGY = '''\
import triton
import triton.language as tl


@triton.jit
def decode_kernel(state, ssm_state_indices, D: tl.constexpr):
    i = tl.program_id(0)
    state_idx = tl.load(ssm_state_indices + i)
    if state_idx < 0:
        return
    tl.store(state + state_idx, 1.0)
'''

INFERRED = '''\
import triton
import triton.language as tl

NULL_BLOCK_ID = 0
PAD = -1


@triton.jit
def step_kernel(state, state_indices, D: tl.constexpr):
    i = tl.program_id(0)
    idx = tl.load(state_indices + i)
    if idx == PAD:
        return
    tl.store(state + idx, 1.0)


def decode(state, state_indices, n):
    state_indices[n:].fill_(NULL_BLOCK_ID)
    step_kernel[(state_indices.numel(),)](state, state_indices, D=16)
'''


def run_json(project: Path, *args: str) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", "--output-format", "json",
                           *args], cwd=project, check=False, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stdout


def validate(doc: dict) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "decode.py").write_text(BUGGY, encoding="utf-8")
    (tmp_path / "kernels" / "step.py").write_text(INFERRED, encoding="utf-8")
    (tmp_path / "kernels" / "broken.py").write_text("import triton\n@triton.jit\ndef k(:\n", encoding="utf-8")
    (tmp_path / "util.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    return tmp_path


def test_the_json_schema_file_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_real_output_matches_the_schema(project: Path):
    code, doc, raw = run_json(project, ".")
    assert code == 2
    validate(doc)
    assert raw.endswith("}\n")
    assert doc["schema"] == "sentinel-lint/1"
    from sentinel_lint import __version__

    assert doc["version"] == __version__


def test_fields_of_a_finding_with_an_unsafe_fix(project: Path):
    """No padding reaches this kernel: the convention is the project's habit, assumed, so the fix is offered but
    not marked safe (`fixable` is false; --unsafe-fixes applies it)."""
    _, doc, _ = run_json(project, "kernels/decode.py")
    (d,) = doc["diagnostics"]
    assert (d["path"], d["line"], d["column"], d["end_line"], d["end_column"], d["code"]) == (
        "kernels/decode.py", 9, 8, 9, 21, "SL001")
    assert d["fixable"] is False and d["fix_available"] is True and d["fix"]["safe"] is False
    assert "assumed" in d["message"]
    # One edit over the comparison, with the text it replaces: only the operator differs.
    assert d["fix"]["edits"] == [{"line": 9, "column": 8, "end_line": 9, "end_column": 21, "text": "state_idx <= 0",
                                  "original": "state_idx < 0"}]
    line = BUGGY.splitlines()[8]
    assert line[d["column"] - 1:d["end_column"] - 1] == "state_idx < 0"
    assert d["convention"]["invalid"] == [0] and d["convention"]["real_min"] == 1
    assert d["convention"]["source"] in ("pack", "project")  # step.py pads this project with 0
    assert "unfixable_reason" not in d


def test_fields_of_an_unfixable_inferred_finding(project: Path):
    _, doc, _ = run_json(project, "kernels/step.py")
    (d,) = doc["diagnostics"]
    validate(doc)
    assert d["fixable"] is False and "fix" not in d
    assert d["unfixable_reason"]
    assert d["convention"]["source"] == "inferred"
    assert d["related"][0] == {"path": "kernels/step.py", "line": 18, "what": "state_indices[n:].fill_(NULL_BLOCK_ID)",
                               "by_name": False}
    assert d["convention"]["chains"][0][0] == d["related"][0]


def test_errors_and_summary(project: Path):
    _, doc, _ = run_json(project, ".")
    assert doc["errors"] == [{"path": "kernels/broken.py", "line": 3, "column": 7,
                              "reason": doc["errors"][0]["reason"]}]
    assert doc["errors"][0]["reason"].startswith("syntax error")
    s = doc["summary"]
    assert s["findings"] == len(doc["diagnostics"]) == 2
    assert s["fixable"] == 0  # one fix on an assumed convention (unsafe), one guard against a name (none)
    assert s["files_seen"] == 4
    assert s["files_skipped_by_prefilter"] == 1  # util.py
    assert s["files_with_kernels"] == 2 and s["kernels"] == 2
    assert [d["path"] for d in doc["diagnostics"]] == sorted(d["path"] for d in doc["diagnostics"])


def test_clean_project(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "ok.py").write_text(BUGGY.replace("< 0", "<= 0"), encoding="utf-8")
    code, doc, _ = run_json(tmp_path, ".")
    assert code == 0
    validate(doc)
    assert doc["diagnostics"] == [] and doc["errors"] == []
    assert doc["summary"]["findings"] == 0


def test_documented_example_matches_the_schema():
    example = re.search(r"## Example\n\n```json\n(.*?)```", DOC, re.DOTALL)
    assert example, "docs/json-schema.md lost its example"
    validate(json.loads(example.group(1)))


def test_every_key_is_documented():
    """Each property of the schema appears as `key` in docs/json-schema.md, and each documented table has a
    schema counterpart for its keys."""
    def keys(node):
        if isinstance(node, dict):
            for k, v in node.get("properties", {}).items():
                yield k
                yield from keys(v)
            for v in node.get("$defs", {}).values():
                yield from keys(v)
            if "items" in node:
                yield from keys(node["items"])
    documented = set(re.findall(r"`([a-z_]+)`", DOC))
    missing = {k for k in keys(SCHEMA) if k not in documented}
    assert not missing, f"keys in the schema but not in docs/json-schema.md: {sorted(missing)}"
