"""Unreadable inputs are reported with path and reason (exit 2, no traceback) while other files are still checked;
exit codes 0 clean / 1 findings / 2 usage or configuration error."""
from __future__ import annotations

import pytest

from helpers import KERNELS, cli, cli_subprocess

GOOD = (
    "import triton\n"
    "import triton.language as tl\n"
    "\n"
    "\n"
    "@triton.jit\n"
    "def k(state, state_indices, D: tl.constexpr):\n"
    "    i = tl.program_id(0)\n"
    "    idx = tl.load(state_indices + i)\n"
    "    if idx < 0:\n"
    "        return\n"
    "    tl.store(state + idx * D + tl.arange(0, D), tl.arange(0, D))\n"
)


def _root(tmp_path, pyproject: str = "") -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n" + pyproject, encoding="utf-8")


@pytest.fixture(scope="module")
def broken_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken")
    _root(root)
    (root / "good.py").write_text(GOOD, encoding="utf-8")
    (root / "syntax.py").write_text("import triton\n\n@triton.jit\ndef k(x:\n    return\n", encoding="utf-8")
    (root / "empty.py").write_bytes(b"")
    (root / "latin.py").write_bytes(b"import triton  # jit\nx = '\xff\xfe caf\xe9'\n")
    (root / "binary.py").write_bytes(b"import triton\x00\x01\x02 jit\x00")
    line = b"x = 1  # padding the file out\n"
    # A kernel file too large to analyse (one that only mentions "jit" is not a kernel file: see test_prefilter.py)
    (root / "huge.py").write_bytes(b"import triton\n\n@triton.jit\ndef k(x):\n    pass\n"
                                   + line * (10 * 1024 * 1024 // len(line)))
    return root


def test_bad_files_reported_others_checked(broken_tree):
    res = cli_subprocess("check", "--output-format", "json", "--no-cache", ".", cwd=broken_tree)
    assert res.exit_code == 2
    assert "Traceback" not in res.stdout + res.stderr
    import json

    doc = json.loads(res.stdout)
    errors = {e["path"]: e["reason"] for e in doc["errors"]}
    assert set(errors) == {"syntax.py", "latin.py", "binary.py", "huge.py"}
    assert errors["syntax.py"].startswith("syntax error")
    assert errors["latin.py"].startswith("cannot decode")
    assert errors["binary.py"] == "binary file (contains NUL bytes)"
    assert errors["huge.py"].startswith("file too large to analyse")
    assert [(d["path"], d["line"], d["code"]) for d in doc["diagnostics"]] == [("good.py", 9, "SL001")]


def test_bad_files_text_output(broken_tree):
    res = cli_subprocess("check", "--no-cache", ".", cwd=broken_tree)
    assert res.exit_code == 2
    out = res.stdout + res.stderr
    assert "Traceback" not in out
    for name in ("syntax.py", "latin.py", "binary.py", "huge.py"):
        assert name in out
    assert "good.py:9:8: SL001" in out


def test_fix_with_bad_files_still_fixes_good_ones(tmp_path):
    _root(tmp_path)
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    (tmp_path / "syntax.py").write_text("import triton\n@triton.jit\ndef k(:\n", encoding="utf-8")
    res = cli_subprocess("fix", "--unsafe-fixes", "--no-cache", ".", cwd=tmp_path)
    assert res.exit_code == 2
    assert "Traceback" not in res.stdout + res.stderr
    assert "syntax.py:" in res.stderr
    assert "if idx <= 0:" in (tmp_path / "good.py").read_text(encoding="utf-8")


def test_empty_file_alone_is_clean(tmp_path):
    _root(tmp_path)
    (tmp_path / "empty.py").write_bytes(b"")
    res = cli("check", "--no-cache", tmp_path / "empty.py")
    assert res.exit_code == 0


def test_exit_code_clean():
    assert cli("check", "--no-cache", "-q", KERNELS / "correct_null_block.py").exit_code == 0


def test_exit_code_findings():
    assert cli("check", "--no-cache", "-q", KERNELS / "forms_alias.py").exit_code == 1
    assert cli("check", "--no-cache", "-q", "--exit-zero", KERNELS / "forms_alias.py").exit_code == 0


def test_exit_code_nonexistent_path(tmp_path):
    res = cli_subprocess("check", "--no-cache", tmp_path / "does-not-exist.py")
    assert res.exit_code == 2
    assert "does-not-exist.py" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("table, text", [
    ("bogus-key = 1\n", "unknown key(s) bogus-key"),
    ('rule-pack = "no-such-pack"\n', "unknown rule pack 'no-such-pack'"),
    ('select = ["SL999"]\n', "unknown rule 'SL999'"),
    ("infer = 3\n", "'infer' must be a bool"),
])
def test_exit_code_config_error(tmp_path, table, text):
    _root(tmp_path, "\n[tool.sentinel-lint]\n" + table)
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    for command in ("check", "fix", "conventions"):
        res = cli_subprocess(command, "--no-cache", ".", cwd=tmp_path)
        assert res.exit_code == 2, (command, res.stdout, res.stderr)
        assert text in res.stderr and "Traceback" not in res.stderr
    assert (tmp_path / "good.py").read_text(encoding="utf-8") == GOOD


def test_invalid_toml_is_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint\n", encoding="utf-8")
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    res = cli_subprocess("check", "--no-cache", ".", cwd=tmp_path)
    assert res.exit_code == 2 and "not valid TOML" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("args, text", [
    (["--rule-pack", "nope"], "unknown rule pack 'nope'"),
    (["--sentinel", "NULL=zero"], "--sentinel expects [NAME=]INTEGER"),
    (["--select", "XX1"], "unknown rule 'XX1'"),
])
def test_exit_code_bad_command_line(args, text):
    res = cli("check", "--no-cache", *args, KERNELS / "forms_alias.py")
    assert res.exit_code == 2
    assert text in res.stderr


def test_explain_unknown_rule():
    res = cli("explain", "SL999")
    assert res.exit_code == 2 and "unknown rule 'SL999'" in res.stderr


def test_an_analyser_bug_in_one_file_is_reported_and_the_others_still_checked(tmp_path, monkeypatch):
    """If the kernel index flow raises on one file, that file is an error (exit 2) naming the exception; the other
    file's findings are still reported."""
    import sentinel_lint.model.indexflow as indexflow

    _root(tmp_path)
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.py").write_text(GOOD.replace("def k(", "def k_bad("), encoding="utf-8")
    real = indexflow.analyze_functions

    def flaky(lines, functions, failures=None):
        if any(fn.name == "k_bad" for fn in functions):
            raise ValueError("boom")
        return real(lines, functions, failures)

    monkeypatch.setattr(indexflow, "analyze_functions", flaky)
    res = cli("check", "--no-cache", "--jobs", "1", "--output-format", "json", tmp_path)
    assert res.exit_code == 2
    doc = res.json()
    assert [(d["path"], d["code"]) for d in doc["diagnostics"]] == [("good.py", "SL001")]
    assert [(e["path"], e["reason"]) for e in doc["errors"]] == [("bad.py", "internal error: ValueError: boom")]
