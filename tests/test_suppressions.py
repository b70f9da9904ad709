"""Suppression comments: ``# sentinel-lint: ignore[CODE] reason``, bare ``ignore``, ``ignore-file[CODE]``; unused
ones are SL100."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel_lint.diagnostics import Diagnostic
from sentinel_lint.suppressions import apply_suppressions, parse_suppressions

HEAD = '''\
import triton
import triton.language as tl


@triton.jit
def decode_kernel(state, ssm_state_indices, block_table, D: tl.constexpr):
    i = tl.program_id(0)
    state_idx = tl.load(ssm_state_indices + i)
    blk = tl.load(block_table + i)
'''
TAIL = '''\
    tl.store(state + state_idx + blk, 1.0)
'''
GUARD_LINE = 10  # the first line after HEAD


def kernel(body: str, top: str = "") -> str:
    return top + HEAD + body + TAIL


def check(project: Path, source: str, *args: str) -> tuple[int, list[dict]]:
    (project / "k.py").write_text(source, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", "--output-format", "json",
                           *args, "k.py"], cwd=project, check=False, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, [(d["code"], d["line"]) for d in json.loads(proc.stdout)["diagnostics"]]


def messages(project: Path) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", "k.py"], cwd=project,
                          check=False, capture_output=True, text=True, timeout=120)
    return proc.stdout.splitlines()[:-1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    return tmp_path


def test_unsuppressed_baseline(project: Path):
    assert check(project, kernel("    if state_idx < 0:\n        return\n")) == (1, [("SL001", GUARD_LINE)])


@pytest.mark.parametrize("comment", [
    "# sentinel-lint: ignore[SL001]",
    "# sentinel-lint: ignore[SL001] block 0 is real in this engine",
    "# sentinel-lint: ignore[SL001]: block 0 is real in this engine",
    "# sentinel-lint: ignore[SL001] -- see issue 12",
    "# sentinel-lint: ignore[sl001]",
    "# sentinel-lint: ignore[ SL001 ]",
    "#sentinel-lint:ignore[SL001]",
    "# noqa: E501  # sentinel-lint: ignore[SL001]",
    "# sentinel-lint: ignore",
    "# sentinel-lint: ignore legacy kernel, rewritten in v2",
])
def test_line_suppression(project: Path, comment: str):
    code, found = check(project, kernel(f"    if state_idx < 0:  {comment}\n        return\n"))
    assert (code, found) == (0, [])


def test_line_suppression_of_another_code_suppresses_nothing(project: Path):
    code, found = check(project, kernel("    if state_idx < 0:  # sentinel-lint: ignore[SL003]\n        return\n"))
    assert code == 1
    assert found == [("SL001", GUARD_LINE), ("SL100", GUARD_LINE)]
    assert "unused suppression (SL003): nothing to suppress" in messages(project)[1]


def test_suppression_only_covers_its_own_statement(project: Path):
    body = ("    if state_idx < 0:  # sentinel-lint: ignore[SL001]\n        return\n"
            "    if state_idx < 0:\n        return\n")
    assert check(project, kernel(body)) == (1, [("SL001", GUARD_LINE + 2)])


def test_comment_on_the_line_above_does_not_suppress(project: Path):
    body = "    # sentinel-lint: ignore[SL001]\n    if state_idx < 0:\n        return\n"
    assert check(project, kernel(body)) == (1, [("SL100", GUARD_LINE), ("SL001", GUARD_LINE + 1)])


@pytest.mark.parametrize("where", ["first", "second", "third"])
def test_multi_line_guard_any_line_of_the_statement(project: Path, where: str):
    lines = ["    if (state_idx < 0", "            or blk < 0", "            or i < 0):"]
    index = {"first": 0, "second": 1, "third": 2}[where]
    lines[index] += "  # sentinel-lint: ignore[SL001] both padding checks predate NULL_BLOCK_ID"
    source = kernel("\n".join(lines) + "\n        return\n")
    # without the comment: one finding per tensor, on lines 1 and 2 of the guard
    bare = kernel("    if (state_idx < 0\n            or blk < 0\n            or i < 0):\n        return\n")
    assert check(project, bare) == (1, [("SL001", GUARD_LINE), ("SL001", GUARD_LINE + 1)])
    assert check(project, source) == (0, [])


def test_multi_line_guard_does_not_leak_to_the_body(project: Path):
    body = ("    if (state_idx < 0\n            or blk < 0):  # sentinel-lint: ignore[SL001]\n        return\n"
            "    if blk < 0:\n        return\n")
    assert check(project, kernel(body)) == (1, [("SL001", GUARD_LINE + 3)])


def test_multi_line_mask_argument(project: Path):
    body = ("    tl.store(state + blk,\n"
             "             1.0,\n"
             "             mask=blk >= 0)  # sentinel-lint: ignore[SL001] masked store, reviewed\n")
    assert check(project, kernel(body).replace(TAIL, "")) == (0, [])
    assert check(project, kernel(body.replace("  # sentinel-lint: ignore[SL001] masked store, reviewed", ""))
                 .replace(TAIL, ""))[1] == [("SL001", GUARD_LINE + 2)]


def test_file_level_suppression(project: Path):
    body = "    if state_idx < 0:\n        return\n    if blk < 0:\n        return\n"
    assert check(project, kernel(body, top="# sentinel-lint: ignore-file[SL001]\n")) == (0, [])


def test_file_level_suppression_anywhere_in_the_file(project: Path):
    body = "    if state_idx < 0:\n        return\n"
    source = kernel(body) + "# sentinel-lint: ignore-file[SL001] generated code\n"
    assert check(project, source) == (0, [])


def test_file_level_suppression_of_another_code(project: Path):
    body = "    if state_idx < 0:\n        return\n"
    code, found = check(project, kernel(body, top="# sentinel-lint: ignore-file[SL003]\n"))
    assert code == 1
    assert found == [("SL100", 1), ("SL001", GUARD_LINE + 1)]
    assert any("unused file-level suppression (SL003)" in m for m in messages(project))


def test_bare_file_level_suppression(project: Path):
    body = "    if state_idx < 0:\n        return\n"
    assert check(project, kernel(body, top="# sentinel-lint: ignore-file\n")) == (0, [])


def test_unused_line_suppression_is_sl100(project: Path):
    body = "    if state_idx <= 0:  # sentinel-lint: ignore[SL001]\n        return\n"
    assert check(project, kernel(body)) == (1, [("SL100", GUARD_LINE)])
    (line,) = messages(project)
    assert line.startswith(f"k.py:{GUARD_LINE}:25: SL100 unused suppression (SL001): nothing to suppress")


def test_unused_bare_suppression_is_sl100(project: Path):
    body = "    if state_idx <= 0:  # sentinel-lint: ignore\n        return\n"
    assert check(project, kernel(body)) == (1, [("SL100", GUARD_LINE)])
    assert "(all codes)" in messages(project)[0]


def test_partly_used_suppression_reports_the_unused_code(project: Path):
    body = "    if state_idx < 0:  # sentinel-lint: ignore[SL001,SL003]\n        return\n"
    assert check(project, kernel(body)) == (1, [("SL100", GUARD_LINE)])
    assert "unused suppression (SL003)" in messages(project)[0]


def test_unknown_code_is_reported(project: Path):
    body = "    if state_idx < 0:  # sentinel-lint: ignore[SL001, SL999]\n        return\n"
    assert check(project, kernel(body)) == (1, [("SL100", GUARD_LINE)])
    assert "unknown rule code SL999" in messages(project)[0]


def test_sl100_can_be_ignored(project: Path):
    body = "    if state_idx <= 0:  # sentinel-lint: ignore[SL001]\n        return\n"
    assert check(project, kernel(body), "--ignore", "SL100") == (0, [])
    body = "    if state_idx <= 0:  # sentinel-lint: ignore[SL001, SL100] kept for the v1 branch\n        return\n"
    assert check(project, kernel(body)) == (0, [])
    assert check(project, kernel("    if state_idx <= 0:  # sentinel-lint: ignore[SL001]\n        return\n",
                                 top="# sentinel-lint: ignore-file[SL100]\n")) == (0, [])


def test_directive_inside_a_string_is_not_a_suppression(project: Path):
    body = '    if state_idx < 0:\n        return\n    msg = "# sentinel-lint: ignore[SL001]"\n'
    assert check(project, kernel(body)) == (1, [("SL001", GUARD_LINE)])


def test_lookalike_comments_are_not_suppressions(project: Path):
    for comment in ("# sentinel-lint: ignored[SL001]", "# sentinel-lint ignore[SL001]", "# sentinel_lint: ignore"):
        assert check(project, kernel(f"    if state_idx < 0:  {comment}\n        return\n")) == (
            1, [("SL001", GUARD_LINE)]), comment


def test_fix_leaves_suppressed_guards_alone(project: Path):
    source = kernel("    if state_idx < 0:  # sentinel-lint: ignore[SL001] kept on purpose\n        return\n")
    (project / "k.py").write_text(source, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "fix", "--unsafe-fixes", "--no-cache", "k.py"], cwd=project,
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (project / "k.py").read_text(encoding="utf-8") == source


def test_stale_suppression_after_fix(project: Path):
    """The guard is fixed (here by `sentinel-lint fix` on the unsuppressed copy, as a teammate's change would be)
    while the line keeps its suppression comment: the comment is now stale and SL100 says so, both in `check` and
    in what `fix` reports as left over."""
    buggy = kernel("    if state_idx < 0:\n        return\n")
    (project / "k.py").write_text(buggy, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "fix", "--unsafe-fixes", "--no-cache", "k.py"], cwd=project,
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fixed = (project / "k.py").read_text(encoding="utf-8")
    assert "    if state_idx <= 0:\n" in fixed
    stale = fixed.replace("    if state_idx <= 0:\n", "    if state_idx <= 0:  # sentinel-lint: ignore[SL001]\n")
    assert check(project, stale) == (1, [("SL100", GUARD_LINE)])
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "fix", "--unsafe-fixes", "--no-cache", "k.py"], cwd=project,
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1  # SL100 has no automatic fix: it is left for a person
    assert f"k.py:{GUARD_LINE}:25: SL100 unused suppression (SL001)" in proc.stdout
    assert "not fixed: delete the comment" in proc.stdout
    assert (project / "k.py").read_text(encoding="utf-8") == stale


# -- the functions, directly ----------------------------------------------------------------------------------------

def test_parse_reason_codes_and_statement_range():
    text = ("x = (1 +\n"
            "     2)  # sentinel-lint: ignore[sl001 , SL003]: why not\n"
            "# sentinel-lint: ignore-file\n"
            "y = 1  # sentinel-lint: IGNORE reason here\n")
    a, b, c = parse_suppressions(text)
    assert (a.line, a.first_line, a.last_line, a.codes, a.reason, a.file_level) == (
        2, 1, 2, frozenset({"SL001", "SL003"}), "why not", False)
    assert (b.line, b.first_line, b.last_line, b.codes, b.file_level) == (3, 3, 3, frozenset(), True)
    assert (c.codes, c.reason) == (frozenset(), "reason here")


def test_parse_tolerates_untokenizable_text():
    parse_suppressions("x = (  # sentinel-lint: ignore\n")  # an unclosed bracket: no exception
    assert parse_suppressions("def f(:\n\tpass\n  x  # sentinel-lint: ignore\n") == []


def _unused(text: str, ran: frozenset) -> list:
    from sentinel_lint.checks import RULES

    sups = parse_suppressions(text)
    assert apply_suppressions([], sups) == []
    return list(RULES["SL100"].check_suppressions("m.py", sups, set(ran), set(RULES)))


def test_codes_that_did_not_run_are_not_reported_unused():
    assert _unused("x = 1  # sentinel-lint: ignore[SL001]\n", frozenset({"SL003", "SL100"})) == []
    (diag,) = _unused("x = 1  # sentinel-lint: ignore[SL001]\n", frozenset({"SL001", "SL100"}))
    assert (diag.code, diag.line, diag.col) == ("SL100", 1, 7)
    assert not diag.fixable and diag.unfixable_reason


def test_apply_keeps_diagnostics_outside_the_statement():
    sups = parse_suppressions("a = 1\nb = 2  # sentinel-lint: ignore\nc = 3\n")
    diags = [Diagnostic("m.py", n, 0, "SL001", "x") for n in (1, 2, 3)]
    assert [d.line for d in apply_suppressions(diags, sups)] == [1, 3]
