"""Configuration errors: a clear one-line message naming the file and key, exit code 2, never a traceback, and
nothing on standard output (so a CI step that saves a SARIF or JSON report never saves half a document)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

KERNEL = '''\
import triton
import triton.language as tl


@triton.jit
def decode_kernel(state, ssm_state_indices, D: tl.constexpr):
    state_idx = tl.load(ssm_state_indices + tl.program_id(0))
    if state_idx < 0:
        return
    tl.store(state + state_idx, 1.0)
'''


def sentinel_lint(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinel_lint", *args], cwd=project, check=False,
                          capture_output=True, text=True, timeout=120)


def project_with(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n[tool.sentinel-lint]\n" + table,
                                             encoding="utf-8")
    (tmp_path / "k.py").write_text(KERNEL, encoding="utf-8")
    (tmp_path / "consts.py").write_text("NULL_BLOCK_ID = 0\nNAME = 'null'\nDERIVED = NULL_BLOCK_ID + 1\n",
                                        encoding="utf-8")
    return tmp_path


def assert_config_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("sentinel-lint: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


CASES = [
    # unknown keys
    pytest.param("bogus = 1\n", ["pyproject.toml", "unknown key(s) bogus", "known: "], id="unknown-key"),
    pytest.param("select = ['SL001']\nsentinal = { value = 0 }\n", ["unknown key(s) sentinal"], id="misspelt-key"),
    pytest.param("sentinel = { value = 0, colour = 'red' }\n", ["sentinel: unknown key(s) colour"],
                 id="unknown-sentinel-key"),
    pytest.param("[[tool.sentinel-lint.tensors]]\nparams = ['*x*']\nvalue = 0\nreal_min = 1\n",
                 ["tensors[0]: unknown key(s) real_min"], id="unknown-tensor-key"),
    # wrong types
    pytest.param("infer = 'yes'\n", ["'infer' must be a bool, got str"], id="infer-type"),
    pytest.param("select = 'SL001'\n", ["'select' must be a list, got str"], id="select-type"),
    pytest.param("select = [1]\n", ["'select' must be a list of strings"], id="select-items"),
    pytest.param("exclude = ['a', 2]\n", ["'exclude' must be a list of strings"], id="exclude-items"),
    pytest.param("include = [1]\n", ["'include' must be a list of strings"], id="include-items"),
    pytest.param("index-params = [true]\n", ["'index-params' must be a list of strings"], id="index-params-items"),
    pytest.param("respect-gitignore = 1\n", ["'respect-gitignore' must be a bool"], id="gitignore-type"),
    pytest.param("rule-pack = 3\n", ["'rule-pack' must be a str"], id="pack-type"),
    pytest.param("sentinel = 0\n", ["'sentinel' must be a dict"], id="sentinel-type"),
    pytest.param("tensors = 'x'\n", ["'tensors' must be a list"], id="tensors-type"),
    pytest.param("sentinel = { name = 'NULL_BLOCK_ID' }\n", ["sentinel needs a 'value'"], id="sentinel-no-value"),
    pytest.param("sentinel = { value = true }\n", ["sentinel 'value' must be an integer"], id="sentinel-bool"),
    pytest.param("sentinel = { value = 1.5 }\n", ["sentinel 'value' must be an integer"], id="sentinel-float"),
    pytest.param("sentinel = { value = 0, real-min = 'one' }\n", ["'real-min' must be an integer"],
                 id="real-min-type"),
    pytest.param("sentinel = { value = 5, real-min = 1 }\n", ["padding values [5] overlap the real ids (>= 1)"],
                 id="overlap"),
    pytest.param("[[tool.sentinel-lint.tensors]]\nparams = 'x'\nvalue = 0\n",
                 ["tensors[0]: 'params' must be a non-empty list"], id="tensor-params-type"),
    pytest.param("[[tool.sentinel-lint.tensors]]\nparams = ['x']\ninvalid = []\n",
                 ["tensors[0]: 'invalid' must be a non-empty list of integers"], id="tensor-invalid-empty"),
    pytest.param("[[tool.sentinel-lint.tensors]]\nparams = ['x']\nvalue = 'zero'\n",
                 ["tensors[0]: 'invalid' must be a non-empty list of integers"], id="tensor-value-type"),
    # rules
    pytest.param("select = ['SL999']\n", ["unknown rule 'SL999'", "known: SL001"], id="unknown-select"),
    pytest.param("ignore = ['E501']\n", ["unknown rule 'E501'"], id="unknown-ignore"),
    # rule packs
    pytest.param("rule-pack = 'no-such-pack'\n", ["unknown rule pack 'no-such-pack'", "available: ", "null-block-id"],
                 id="unknown-pack"),
    pytest.param("fallback-pack = 'vllm-0.19'\n", ["unknown rule pack 'vllm-0.19'"], id="unknown-fallback-pack"),
    # sentinels read from the code
    pytest.param("sentinel = { value = 'missing.py:NULL_BLOCK_ID' }\n",
                 ["cannot read missing.py to resolve NULL_BLOCK_ID"], id="sentinel-file-missing"),
    pytest.param("sentinel = { value = 'consts.py:PAD_SLOT_ID' }\n",
                 ["PAD_SLOT_ID is not an integer constant defined in consts.py"], id="sentinel-name-missing"),
    pytest.param("sentinel = { value = 'consts.py:NAME' }\n", ["NAME is not an integer constant"],
                 id="sentinel-name-not-int"),
    pytest.param("sentinel = { value = 'consts.py:DERIVED' }\n", ["DERIVED is not an integer constant"],
                 id="sentinel-name-computed"),
    pytest.param("sentinel = { value = 'consts.py' }\n", ["must be an integer or \"path/to/file.py:NAME\""],
                 id="sentinel-no-name"),
    pytest.param("sentinel = { value = '.:NULL_BLOCK_ID' }\n", ["cannot read . to resolve NULL_BLOCK_ID"],
                 id="sentinel-directory"),
    pytest.param("sentinel = { value = 'k.py:NULL_BLOCK_ID' }\n", ["NULL_BLOCK_ID is not an integer constant"],
                 id="sentinel-wrong-file"),
]


@pytest.mark.parametrize("table, fragments", CASES)
def test_config_error(tmp_path: Path, table: str, fragments: list[str]):
    project = project_with(tmp_path, table)
    assert_config_error(sentinel_lint(project, "check", "--no-cache", "."), *fragments)


@pytest.mark.parametrize("command", [["check"], ["check", "--output-format", "sarif"],
                                     ["check", "--output-format", "json"], ["check", "--output-format", "github"],
                                     ["fix"], ["fix", "--diff"], ["conventions"]])
def test_every_command_and_format(tmp_path: Path, command: list[str]):
    project = project_with(tmp_path, "sentinel = { value = 'consts.py:MISSING' }\n")
    assert_config_error(sentinel_lint(project, *command, "--no-cache", "."), "MISSING is not an integer constant")
    assert (project / "k.py").read_text(encoding="utf-8") == KERNEL  # fix wrote nothing


def test_sentinel_read_from_the_code_works(tmp_path: Path):
    project = project_with(tmp_path, "sentinel = { value = 'consts.py:NULL_BLOCK_ID', name = 'NULL_BLOCK_ID' }\n")
    proc = sentinel_lint(project, "check", "--no-cache", "k.py")
    assert proc.returncode == 1, proc.stderr
    assert "NULL_BLOCK_ID (0)" in proc.stdout


def test_invalid_toml(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\nselect = [\n", encoding="utf-8")
    (tmp_path / "k.py").write_text(KERNEL, encoding="utf-8")
    assert_config_error(sentinel_lint(tmp_path, "check", "--no-cache", "."), "pyproject.toml", "not valid TOML")


def test_tool_table_not_a_table(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool]\nsentinel-lint = 3\n", encoding="utf-8")
    (tmp_path / "k.py").write_text(KERNEL, encoding="utf-8")
    assert_config_error(sentinel_lint(tmp_path, "check", "--no-cache", "."), "[tool.sentinel-lint] must be a table")


def test_explicit_config_file(tmp_path: Path):
    (tmp_path / "k.py").write_text(KERNEL, encoding="utf-8")
    other = tmp_path / "ci.toml"
    other.write_text("[tool.sentinel-lint]\nrule-pack = 'nope'\n", encoding="utf-8")
    assert_config_error(sentinel_lint(tmp_path, "check", "--no-cache", "--config", str(other), "."),
                        "unknown rule pack 'nope'")


@pytest.mark.parametrize("args, fragment", [
    (["--rule-pack", "nope"], "unknown rule pack 'nope'"),
    (["--sentinel", "NULL_BLOCK_ID=zero"], "--sentinel expects [NAME=]INTEGER, got 'NULL_BLOCK_ID=zero'"),
    (["--sentinel", "0.5"], "--sentinel expects [NAME=]INTEGER"),
    (["--sentinel", "X="], "--sentinel expects [NAME=]INTEGER"),
    (["--select", "SL999"], "unknown rule 'SL999'"),
    (["--ignore", "SL1"], "unknown rule 'SL1'"),
])
def test_command_line_errors(tmp_path: Path, args: list[str], fragment: str):
    project = project_with(tmp_path, "")
    assert_config_error(sentinel_lint(project, "check", "--no-cache", *args, "."), fragment)


def test_sentinel_params_must_be_a_list(tmp_path: Path):
    project = project_with(tmp_path, "sentinel = { value = 0, params = '*state_indices*' }\n")
    assert_config_error(sentinel_lint(project, "check", "--no-cache", "."), "params")


def test_command_line_errors_do_not_blame_pyproject(tmp_path: Path):
    project = project_with(tmp_path, "")
    proc = sentinel_lint(project, "check", "--no-cache", "--select", "SL999", ".")
    assert_config_error(proc, "SL999")
    assert "pyproject.toml" not in proc.stderr


def test_usage_errors_are_click_errors_with_exit_2(tmp_path: Path):
    project = project_with(tmp_path, "")
    for args in (["check", "missing.py"], ["check", "--output-format", "xml", "."], ["check", "--jobs", "0", "."],
                 ["check", "--config", "missing.toml", "."], ["no-such-command"]):
        proc = sentinel_lint(project, *args)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr
        assert "Error:" in proc.stderr, (args, proc.stderr)
