"""Shared helpers for the fixture-driven CLI tests (check, fix, inference, errors)."""
from __future__ import annotations

import difflib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from sentinel_lint.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
KERNELS = FIXTURES / "kernels"
PROJECTS = FIXTURES / "projects"
SNAPSHOTS = KERNELS / "expected"
UPDATE_SNAPSHOTS = os.environ.get("SENTINEL_LINT_UPDATE_SNAPSHOTS") == "1"

_EXPECT = re.compile(r"#\s*expect:\s*([A-Z]+\d+(?:\s*,\s*[A-Z]+\d+)*)")
_ARGS = re.compile(r"^#\s*sentinel-lint-args:\s*(.*)$", re.M)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def cli(*args, cwd: Path | None = None) -> Result:
    """Run ``sentinel-lint ARGS`` in-process (click's runner), from ``cwd``."""
    runner = CliRunner()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        res = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)
    return Result(res.exit_code, res.stdout, res.stderr)


def cli_subprocess(*args, cwd: Path | None = None, timeout: float = 60) -> Result:
    """Run ``python -m sentinel_lint ARGS`` in a fresh interpreter (for crash/traceback checks)."""
    env = dict(os.environ, NO_COLOR="1", CI="1")
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def check_json(*args, cwd: Path | None = None) -> tuple[int, dict]:
    res = cli("check", "--output-format", "json", "--no-cache", *args, cwd=cwd)
    assert res.exit_code in (0, 1, 2), (res.exit_code, res.stdout, res.stderr)
    return res.exit_code, res.json()


def expected_markers(path: Path, rel: str | None = None) -> set:
    """{(line, code)} (or {(rel, line, code)}) from ``# expect: CODE[, CODE]`` comments."""
    out = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = _EXPECT.search(line)
        if m:
            for code in m.group(1).split(","):
                out.add((lineno, code.strip()) if rel is None else (rel, lineno, code.strip()))
    return out


def project_markers(root: Path) -> set:
    out = set()
    for path in sorted(root.rglob("*.py")):
        out |= expected_markers(path, path.relative_to(root).as_posix())
    return out


def fixture_args(path: Path) -> list[str]:
    """Extra command-line arguments a kernel fixture asks for (``# sentinel-lint-args: ...`` on line 1)."""
    m = _ARGS.search(path.read_text(encoding="utf-8").split("\n", 1)[0])
    return shlex.split(m.group(1)) if m else []


def found(doc: dict, with_path: bool = False) -> set:
    return {((d["path"], d["line"], d["code"]) if with_path else (d["line"], d["code"])) for d in doc["diagnostics"]}


def render(doc: dict, root: Path | None = None) -> str:
    """One line per finding, ``line:col: CODE message`` (paths in messages made relative to ``root``)."""
    lines = []
    for d in doc["diagnostics"]:
        message = d["message"]
        if root is not None:
            message = message.replace(str(root) + os.sep, "<root>/").replace(str(root), "<root>")
        lines.append(f"{d['path']}:{d['line']}:{d['column']}: {d['code']} {message}")
    return "\n".join(lines) + "\n"


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", ".sentinel-lint-cache", "expected"))
    return dst


GUARD_TOKENS = {"<", "<=", ">", ">=", "==", "!=", "-"}


def tokens_by_line(text: str) -> dict[int, list[str]]:
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    out: dict[int, list[str]] = {}
    for t in tokenize.generate_tokens(io.StringIO(text).readline):
        if t.type not in skip:
            out.setdefault(t.start[0], []).append(t.string)
    return out


def only_guard_tokens_changed(before: str, after: str) -> None:
    """Same lines, same tokens, except comparison operators, integer literals and unary minus signs."""
    assert len(before.splitlines()) == len(after.splitlines())
    a, b = tokens_by_line(before), tokens_by_line(after)
    assert a.keys() == b.keys()
    for line in a:
        matcher = difflib.SequenceMatcher(a=a[line], b=b[line], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            for tok in a[line][i1:i2] + b[line][j1:j2]:
                assert tok in GUARD_TOKENS or tok.isdigit(), (line, a[line], b[line])
    # comments (and the expect markers in them) are untouched
    assert [l.partition("#")[2] for l in before.splitlines()] == [l.partition("#")[2] for l in after.splitlines()]
