"""Text output: one ``path:line:col: CODE message`` line per finding, a summary line, colour only on a terminal;
``--exit-zero``, ``--statistics`` and ``--quiet``."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

BUGGY = '''\
import triton
import triton.language as tl

PAD = -1


@triton.jit
def decode_kernel(state, ssm_state_indices, block_table, D: tl.constexpr):
    i = tl.program_id(0)
    state_idx = tl.load(ssm_state_indices + i)
    blk = tl.load(block_table + i)
    if state_idx < 0:
        return
    if blk == PAD:
        return
    tl.store(state + state_idx + blk, 1.0)


def decode(state, ssm_state_indices, block_table, n):
    ssm_state_indices[n:].fill_(0)
    block_table[n:].fill_(0)
    decode_kernel[(n,)](state, ssm_state_indices, block_table, D=16)
'''

ESC = "\x1b["


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "CI")}
    env.update(extra)
    return env


def cli(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", *args], cwd=project,
                          check=False, capture_output=True, text=True, timeout=120, env=_env(**env))


def cli_on_tty(project: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal, as in an interactive shell."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", *args], cwd=project,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=_env(**env))
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError("no output from the CLI on a terminal within 60s")
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "k.py").write_text(BUGGY, encoding="utf-8")
    (tmp_path / "clean.py").write_text(BUGGY.replace("< 0", "<= 0").replace("== PAD", "== 0"), encoding="utf-8")
    return tmp_path


def test_findings_and_summary_line(project: Path):
    proc = cli(project, ".")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.stdout
    assert lines[0].startswith("k.py:12:8: SL001 [*] `state_idx < 0` lets ")
    assert lines[1].startswith("k.py:14:8: SL001 `blk == PAD`")  # no fix: no [*]
    assert lines[2] == "Found 2 findings; 1 fixable with `sentinel-lint fix`."
    assert ESC not in proc.stdout + proc.stderr  # piped: no colour


def test_clean_summary_line(project: Path):
    proc = cli(project, "clean.py")
    assert proc.returncode == 0
    assert proc.stdout == "All checks passed (1 files, 1 kernels).\n"


def test_singular_summary_and_unparsable_files(project: Path):
    (project / "bad.py").write_text("import triton\n@triton.jit\ndef k(:\n", encoding="utf-8")
    proc = cli(project, "k.py", "bad.py", "--select", "SL001")
    assert proc.returncode == 2
    assert proc.stdout.splitlines()[0].startswith("bad.py:3:7: E902 syntax error")
    assert proc.stdout.splitlines()[-1] == ("Found 2 findings; 1 fixable with `sentinel-lint fix`; "
                                           "1 file could not be analysed.")
    (project / "k.py").write_text(BUGGY.replace("if blk == PAD:", "if blk == 0:"), encoding="utf-8")
    proc = cli(project, "k.py")
    assert proc.stdout.splitlines()[-1] == "Found 1 finding; 1 fixable with `sentinel-lint fix`."


def test_no_colour_when_piped_even_with_findings(project: Path):
    proc = cli(project, ".")
    assert ESC not in proc.stdout


def test_colour_on_a_terminal(project: Path):
    code, out = cli_on_tty(project, ".")
    assert code == 1
    assert f"{ESC}1mk.py{ESC}0m:12:8: {ESC}31mSL001{ESC}0m{ESC}36m [*]{ESC}0m" in out, repr(out)
    assert f"{ESC}2mFound 2 findings" in out


def test_no_color_variable_turns_colour_off_on_a_terminal(project: Path):
    code, out = cli_on_tty(project, ".", NO_COLOR="1")
    assert code == 1
    assert "k.py:12:8: SL001 [*]" in out
    assert ESC not in out.replace(f"{ESC}?25l", "").replace(f"{ESC}?25h", ""), repr(out)


def test_empty_no_color_variable_does_not_count(project: Path):
    _, out = cli_on_tty(project, ".", NO_COLOR="")  # no-color.org: only a non-empty value disables colour
    assert f"{ESC}31mSL001" in out


def test_output_file_is_never_coloured(project: Path):
    target = project / "report.txt"
    code, _ = cli_on_tty(project, ".", "-o", str(target))
    assert code == 1
    text = target.read_text(encoding="utf-8")
    assert ESC not in text
    assert text.splitlines()[-1] == "Found 2 findings; 1 fixable with `sentinel-lint fix`."


def test_exit_zero(project: Path):
    proc = cli(project, "--exit-zero", ".")
    assert proc.returncode == 0
    assert "SL001" in proc.stdout  # still reported


def test_exit_zero_does_not_hide_unparsable_files(project: Path):
    (project / "bad.py").write_text("import triton\n@triton.jit\ndef k(:\n", encoding="utf-8")
    assert cli(project, "--exit-zero", ".").returncode == 2


def test_statistics(project: Path):
    proc = cli(project, "--statistics", ".")
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "    2\tSL001\t[*] 1 fixable",
        "Found 2 findings; 1 fixable with `sentinel-lint fix`.",
    ]


def test_statistics_quiet_and_exit_zero_together(project: Path):
    proc = cli(project, "--statistics", "--quiet", "--exit-zero", ".")
    assert proc.returncode == 0
    assert proc.stdout == "    2\tSL001\t[*] 1 fixable\n"


def test_quiet_prints_findings_only(project: Path):
    proc = cli(project, "--quiet", ".")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("k.py:") for line in lines)
    assert proc.stderr == ""
    clean = cli(project, "-q", "clean.py")
    assert clean.returncode == 0
    assert clean.stdout == ""


def test_timings_on_request_only(project: Path):
    proc = cli(project, ".", SENTINEL_LINT_TIMINGS="1")
    line = next(x for x in proc.stderr.splitlines() if "timings:" in x)
    stages = [part.split()[0] for part in line.split("timings: ", 1)[1].split("; total")[0].split(", ")]
    assert stages == ["discovery", "facts", "graph", "index", "checks"]  # "index flow"
    assert "timings" not in cli(project, ".").stderr
