"""``--output-format github``: one ``::error`` workflow command per finding, escaped as the Actions runner expects."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sentinel_lint.diagnostics import Diagnostic, FileError
from sentinel_lint.engine import RunResult, Stats
from sentinel_lint.report import github

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

LINE = re.compile(r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+)"
                  r"(?:,endLine=(?P<end_line>\d+),endColumn=(?P<end_col>\d+))?,title=(?P<title>[^:]+)::(?P<msg>.*)$")


def cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", "--output-format", "github",
                           *args], cwd=project, check=False, capture_output=True, text=True, timeout=120)


def test_annotation_lines_from_a_real_run(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "decode.py").write_text(BUGGY, encoding="utf-8")
    (tmp_path / "pkg" / "broken.py").write_text("import triton\n\n@triton.jit\ndef k(:\n    pass\n", encoding="utf-8")
    proc = cli(tmp_path, ".")
    assert proc.returncode == 2  # a file could not be parsed
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout
    error = LINE.match(lines[0])
    assert error and error["file"] == "pkg/broken.py" and error["title"] == "E902", lines[0]
    assert error["line"] == "4" and error["msg"].startswith("syntax error")
    finding = LINE.match(lines[1])
    assert finding, lines[1]
    assert finding.groupdict() | {"msg": None} == {
        "file": "pkg/decode.py", "line": "9", "col": "8", "end_line": "9", "end_col": "21", "title": "SL001",
        "msg": None,
    }
    assert finding["msg"].startswith("SL001 `state_idx < 0` lets NULL_BLOCK_ID (0) through")
    # ':' and ',' are legal in the message part; only properties escape them
    assert "%3A" not in finding["msg"] and "%2C" not in finding["msg"]
    assert proc.stderr == ""


def test_clean_run_prints_nothing(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "ok.py").write_text(BUGGY.replace("< 0", "<= 0"), encoding="utf-8")
    proc = cli(tmp_path, ".")
    assert proc.returncode == 0
    assert proc.stdout == ""


def test_exit_zero_keeps_the_annotations(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "k.py").write_text(BUGGY, encoding="utf-8")
    proc = cli(tmp_path, "--exit-zero", ".")
    assert proc.returncode == 0
    assert proc.stdout.startswith("::error file=k.py,line=9,col=8,")


def _result(diags=(), errors=()) -> RunResult:
    return RunResult(list(diags), list(errors), Stats())


def test_escaping_of_properties_and_message():
    diag = Diagnostic("dir,with:odd/100%name.py", 3, 4, "SL001", "50% of rows\r\nlet `a, b: c` through",
                      end_line=3, end_col=9)
    out = github.emit(_result([diag]))
    assert out == ("::error file=dir%2Cwith%3Aodd/100%25name.py,line=3,col=5,endLine=3,endColumn=10,title=SL001"
                   "::SL001 50%25 of rows%0D%0Alet `a, b: c` through\n")
    assert out.count("\n") == 1  # a newline in a message cannot start a second command


def test_escaping_of_errors_and_missing_positions():
    err = FileError("a:b.py", 0, 0, "cannot read: 100% broken\nreally")
    diag = Diagnostic("k.py", 0, 0, "SL003", "no end position")
    out = github.emit(_result([diag], [err])).splitlines()
    assert out == [
        "::error file=a%3Ab.py,line=1,col=1,title=E902::cannot read: 100%25 broken%0Areally",
        "::error file=k.py,line=1,col=1,title=SL003::SL003 no end position",
    ]


def test_empty_result_is_empty_output():
    assert github.emit(_result()) == ""
