"""Nothing a repository contains may run code, corrupt a file or end the run: the hostile-repository matrix.

Each case builds a small project with one kernel whose guard is a known finding, adds one bad input, and checks
that the bad input is that file's error (its path, a reason, exit 2), that the good file is still checked, that no
traceback is printed, and that nothing else changed.
"""
from __future__ import annotations

import os
import pickle
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli, cli_subprocess

GOOD = """\
import triton
import triton.language as tl


@triton.jit
def k(state, state_indices, D: tl.constexpr):
    idx = tl.load(state_indices + tl.program_id(0))
    if idx < 0:
        return
    tl.store(state + idx * D, 1.0)
"""
GOOD_FINDING = ("good.py", 8, "SL001")


def project(tmp_path: Path, **files: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    # Conventions set explicitly: the good file's finding rests on evidence, so its fix is safe.
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n[tool.sentinel-lint]\n"
                                         "rule-pack = \"null-block-id\"\n", encoding="utf-8")
    (root / "good.py").write_text(GOOD, encoding="utf-8")
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def findings(doc: dict) -> set:
    return {(d["path"], d["line"], d["code"]) for d in doc["diagnostics"]}


def check(root: Path, *args, timeout: float = 60):
    """``check --output-format json`` in a fresh interpreter: a crash or a hang cannot hide in the test process."""
    res = cli_subprocess("check", "--output-format", "json", *args, ".", cwd=root, timeout=timeout)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.exit_code in (0, 1, 2), (res.exit_code, res.stderr)
    return res


def no_privilege() -> list[str]:
    """A command prefix under which permission bits apply (root bypasses them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable to the test")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def run_unprivileged(root: Path, *args, timeout: float = 60):
    env = dict(os.environ, NO_COLOR="1", CI="1")
    proc = subprocess.run([*no_privilege(), sys.executable, "-m", "sentinel_lint", *args], cwd=root,
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


# -- the cache ------------------------------------------------------------------------------------------------

class _Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _entries(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*.json") if p.is_file()]


def _forged(raw: bytes) -> bytes:
    """The same entry with every finding and kernel taken out, sealed with a made-up MAC: what a repository
    would plant to hide a finding."""
    from sentinel_lint import codec, engine  # noqa: F401 - registers the cached classes
    from sentinel_lint.model import facts, sites  # noqa: F401
    from sentinel_lint.stages import memo, scan

    magic, mac, payload = raw.split(b"\n", 2)
    value = codec.loads(payload)
    if isinstance(value, memo.RunMemo):
        value.result.diagnostics = []
    elif isinstance(value, scan.FileResult) and value.facts is not None:
        for fn in value.facts.functions:
            fn.is_kernel = False
    elif isinstance(value, dict):
        value.clear()
    return magic + b"\n" + b"f" * len(mac) + b"\n" + codec.dumps(value)


@pytest.mark.parametrize("kind", ["pickle", "json-other-key", "forged", "wrong-types", "truncated", "garbage"])
def test_a_hostile_cache_runs_nothing_and_changes_no_finding(tmp_path, kind):
    root = project(tmp_path)
    cache = root / ".cache-in-repo"  # a repository can hold the cache it is checked with (--cache-dir)
    marker = tmp_path / "pwned"
    clean = findings(check(root, "--no-cache").json())
    assert findings(check(root, "--cache-dir", str(cache)).json()) == clean
    entries = _entries(cache)
    assert entries, "the first run wrote no cache entry"
    for entry in entries:
        raw = entry.read_bytes()
        if kind == "pickle":
            entry.write_bytes(pickle.dumps(_Payload(marker)))
        elif kind == "json-other-key":  # well-formed, sealed with a key that is not this user's
            magic, mac, payload = raw.split(b"\n", 2)
            entry.write_bytes(magic + b"\n" + b"0" * len(mac) + b"\n" + payload)
        elif kind == "forged":
            entry.write_bytes(_forged(raw))
        elif kind == "wrong-types":
            entry.write_bytes(raw.replace(b'["c","', b'["c","Popen","', 1))
        elif kind == "truncated":
            entry.write_bytes(raw[: len(raw) // 2])
        else:
            entry.write_bytes(os.urandom(200))
    again = check(root, "--cache-dir", str(cache))
    assert not marker.exists(), "reading the cache ran code"
    assert findings(again.json()) == clean
    # every bad entry was ignored and rewritten with this user's own data: the next run agrees
    assert findings(check(root, "--cache-dir", str(cache)).json()) == clean
    assert all(not e.read_bytes().startswith(b"\x80") for e in _entries(cache))


def test_a_pickle_planted_where_old_versions_kept_their_cache_is_never_read(tmp_path):
    root = project(tmp_path)
    marker = tmp_path / "pwned"
    old = root / ".sentinel-lint-cache" / "v0.1.0-x" / "ab"
    old.mkdir(parents=True)
    (old / "abcdef.pickle").write_bytes(pickle.dumps(_Payload(marker)))
    res = cli_subprocess("check", "--output-format", "json", ".", cwd=root)
    assert not marker.exists()
    assert GOOD_FINDING in findings(res.json())


def test_a_cache_directory_that_is_a_link_is_not_used(tmp_path):
    root = project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = root / "cache-link"
    link.symlink_to(elsewhere, target_is_directory=True)
    res = check(root, "--cache-dir", str(link))
    assert ("good.py", 8, "SL001") in findings(res.json())
    assert list(elsewhere.iterdir()) == [], "the cache wrote through a link"


def test_a_linked_entry_is_not_followed(tmp_path):
    root = project(tmp_path)
    cache = tmp_path / "cache"
    check(root, "--cache-dir", str(cache))
    secret = tmp_path / "secret.txt"
    secret.write_text("do not overwrite\n", encoding="utf-8")
    for entry in _entries(cache):
        entry.unlink()
        entry.symlink_to(secret)
    res = check(root, "--cache-dir", str(cache))
    assert ("good.py", 8, "SL001") in findings(res.json())
    assert secret.read_text(encoding="utf-8") == "do not overwrite\n"


def test_the_cache_is_used(tmp_path, monkeypatch):
    """A warm run analyses nothing and links nothing (the whole-run memo answers); without the memo the project
    is linked again but no file is analysed again (the per-file entries answer)."""
    from sentinel_lint.model.flow import FlowGraph
    from sentinel_lint.stages import kernels, memo, scan

    root = project(tmp_path)
    cache = tmp_path / "cache"
    cli("check", "--cache-dir", cache, "--jobs", "1", root)
    calls = []
    for module, name in ((scan, "analyse_source"), (kernels, "analyse_kernels")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    real_build = FlowGraph.build
    monkeypatch.setattr(FlowGraph, "build", lambda self: calls.append("link") or real_build(self))

    res = cli("check", "--output-format", "json", "--cache-dir", cache, "--jobs", "1", root)
    assert calls == [] and res.json()["summary"]["findings"] == 1
    monkeypatch.setattr(memo, "load", lambda *a, **k: None)
    res = cli("check", "--output-format", "json", "--cache-dir", cache, "--jobs", "1", root)
    assert calls == ["link"] and res.json()["summary"]["findings"] == 1
    # with the cache off, everything runs: the counters above can see it
    cli("check", "--no-cache", "--jobs", "1", root)
    assert set(calls) == {"analyse_source", "analyse_kernels", "link"}


def test_a_fix_that_would_not_parse_is_not_written(tmp_path):
    from sentinel_lint.diagnostics import Diagnostic, Edit, Fix
    from sentinel_lint.fix import FixError, fix_file

    root = project(tmp_path)
    path = root / "good.py"
    broken = Edit(8, 7, 8, 14, "idx <= 0 0", "idx < 0")  # replaces the text it claims to, but leaves junk
    diag = Diagnostic("good.py", 8, 7, "SL001", "m", fix=Fix((broken,), True, "d"))
    with pytest.raises(FixError, match="does not parse"):
        fix_file(path, "good.py", [diag])
    assert path.read_text(encoding="utf-8") == GOOD


# -- fixing -----------------------------------------------------------------------------------------------------

STALE = GOOD.replace("    tl.store(state + idx * D, 1.0)\n", "    v = abcdefgh * 30\n    tl.store(state + idx * D, v)\n")


def test_fix_does_not_trust_positions_of_a_file_edited_without_a_new_size_or_mtime(tmp_path):
    """cp -p, tar and rsync -a keep size and mtime: the cache must not hand stale positions to the fixer."""
    root = project(tmp_path, **{"good.py": STALE})
    cache = tmp_path / "cache"
    path = root / "good.py"
    cli("check", "--cache-dir", cache, root)
    info = path.stat()
    # the guard and the line after it move below `v = ...`: same bytes, other order, same size
    moved = STALE.replace("    if idx < 0:\n        return\n    v = abcdefgh * 30\n",
                          "    v = abcdefgh * 30\n    if idx < 0:\n        return\n")
    assert moved != STALE and len(moved) == len(STALE)
    path.write_text(moved, encoding="utf-8")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    res = cli("fix", "--cache-dir", cache, root)
    assert res.exit_code == 0, (res.stdout, res.stderr)
    assert path.read_text(encoding="utf-8") == moved.replace("if idx < 0:", "if idx <= 0:")


def test_an_edit_applies_only_where_its_original_text_still_is(tmp_path):
    """The fixer's own check, without the cache: edits computed on one text refuse another."""
    from sentinel_lint import api
    from sentinel_lint.config import load_settings
    from sentinel_lint.fix import StaleText, fix_text

    root = project(tmp_path)
    settings = load_settings([root])
    diagnostics = api.check([root], settings, cache_dir=None, jobs=1).diagnostics
    assert [d.fix.edits[0].original for d in diagnostics] == ["idx < 0"]
    fixed = fix_text("good.py", GOOD, diagnostics).fixed
    assert "if idx <= 0:" in fixed
    with pytest.raises(StaleText):  # already fixed: `<` is still there, `idx < 0` is not
        fix_text("good.py", fixed, diagnostics)
    with pytest.raises(StaleText):  # the line now holds other code
        fix_text("good.py", GOOD.replace("    if idx < 0:", "    v = ab * 30"), diagnostics)


def test_two_fixers_at_once_apply_each_edit_once(tmp_path):
    root = project(tmp_path)
    for i in range(24):
        (root / f"k{i}.py").write_text(GOOD.replace("def k(", f"def k{i}("), encoding="utf-8")
    env = dict(os.environ, NO_COLOR="1", CI="1")
    for _ in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "sentinel_lint", "fix", "--no-cache", "-q", "."],
                                  cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert "Traceback" not in err, err
        for path in root.glob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "if idx <= 0:" in text and "<=" not in text.replace("if idx <= 0:", ""), (path, text)
        for path in root.glob("*.py"):  # put the bug back for the next round
            path.write_text(path.read_text(encoding="utf-8").replace("idx <= 0", "idx < 0"), encoding="utf-8")


def test_fix_writes_through_a_symlink_and_keeps_hard_links_owner_and_mode(tmp_path):
    root = project(tmp_path)
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "target.py"
    target.write_text(GOOD.replace("def k(", "def k_link("), encoding="utf-8")
    (root / "linked.py").symlink_to(target)
    (root / "hard.py").write_text(GOOD.replace("def k(", "def k_hard("), encoding="utf-8")
    os.link(root / "hard.py", real_dir / "other-name.py")
    os.chmod(root / "good.py", 0o640)
    if os.geteuid() == 0:
        os.chown(root / "good.py", 12345, 23456)
    res = cli("fix", "--no-cache", root)
    assert res.exit_code == 0, (res.stdout, res.stderr)
    assert (root / "linked.py").is_symlink() and "idx <= 0" in target.read_text(encoding="utf-8")
    assert os.stat(root / "hard.py").st_nlink == 2
    assert "idx <= 0" in (real_dir / "other-name.py").read_text(encoding="utf-8")
    info = os.stat(root / "good.py")
    assert stat.S_IMODE(info.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (12345, 23456)


def test_fix_refuses_a_read_only_file_unless_asked_and_fixes_the_others(tmp_path):
    root = project(tmp_path, **{"ro.py": GOOD.replace("def k(", "def k_ro(")})
    os.chmod(root / "ro.py", 0o444)
    res = cli("fix", "--no-cache", root)
    assert res.exit_code == 2
    assert "ro.py" in res.stderr and "read-only" in res.stderr
    assert "idx < 0" in (root / "ro.py").read_text(encoding="utf-8")
    assert "idx <= 0" in (root / "good.py").read_text(encoding="utf-8")
    res = cli("fix", "--no-cache", "--allow-read-only", root)
    assert res.exit_code == 0 and "idx <= 0" in (root / "ro.py").read_text(encoding="utf-8")
    assert stat.S_IMODE(os.stat(root / "ro.py").st_mode) == 0o444


def test_fix_reports_a_file_it_cannot_replace_and_goes_on(tmp_path):
    root = project(tmp_path)
    locked = root / "locked"
    locked.mkdir()
    (locked / "k2.py").write_text(GOOD.replace("def k(", "def k2("), encoding="utf-8")
    os.chmod(locked, 0o555)  # no new file (and no rename) in this directory
    os.chmod(locked / "k2.py", 0o444)
    try:
        proc = run_unprivileged(root, "fix", "--no-cache", "--allow-read-only", ".")
    finally:
        os.chmod(locked, 0o755)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "locked/k2.py" in proc.stderr
    assert "idx <= 0" in (root / "good.py").read_text(encoding="utf-8")
    assert "idx < 0" in (locked / "k2.py").read_text(encoding="utf-8")


# -- bad inputs: each one is its file's error, and the run goes on -------------------------------------------

def _assert_error(res, path_part: str, reason_part: str):
    doc = res.json()
    assert res.exit_code == 2, (res.exit_code, res.stderr)
    assert GOOD_FINDING in findings(doc), doc
    assert any(path_part in e["path"] and reason_part in e["reason"] for e in doc["errors"]), doc["errors"]


def test_a_file_name_that_is_not_utf8(tmp_path):
    root = project(tmp_path)
    with open(os.path.join(os.fsencode(root), b"bad\xff.py"), "wb") as fh:
        fh.write(GOOD.encode())
    _assert_error(check(root), "bad\\xff.py", "not valid UTF-8")


def test_a_directory_name_that_is_not_utf8(tmp_path):
    root = project(tmp_path)
    os.mkdir(os.path.join(os.fsencode(root), b"d\xfe"))
    with open(os.path.join(os.fsencode(root), b"d\xfe", b"k.py"), "wb") as fh:
        fh.write(GOOD.encode())
    _assert_error(check(root), "d\\xfe", "not valid UTF-8")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_guard_with_ten_thousand_terms(tmp_path, jobs):
    huge = GOOD.replace("def k(", "def k_huge(").replace(
        "if idx < 0:", "if " + " or ".join(f"idx == {i}" for i in range(10_000)) + ":")
    root = project(tmp_path, **{"huge.py": huge})
    for i in range(8):  # enough files for the worker pool to be used
        (root / f"pad{i}.py").write_text("x = 1\n", encoding="utf-8")
    _assert_error(check(root, "--jobs", jobs), "huge.py", "nested")


def test_a_worker_that_dies_costs_one_file(tmp_path, monkeypatch):
    """A native crash in a worker process (not an exception) is that file's error; the others are checked."""
    from sentinel_lint.stages import scan

    root = project(tmp_path, **{"crash.py": GOOD.replace("def k(", "def k_crash(")})
    for i in range(10):
        (root / f"pad{i}.py").write_text("x = 1\n", encoding="utf-8")
    real = scan._analyse

    def dies_on_crash(data, entry, digest):
        if entry.display == "crash.py":
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(data, entry, digest)

    monkeypatch.setattr(scan, "_analyse", dies_on_crash)
    res = cli("check", "--no-cache", "--jobs", "2", "--output-format", "json", root)
    _assert_error(res, "crash.py", "crashed")


@pytest.mark.parametrize("lines", ["[z-a].py\n", "[]\n", "[!]\n", "[\n", "\\\n", "**/[\n"])
def test_gitignore_lines_that_git_accepts(tmp_path, lines):
    root = project(tmp_path)
    (root / ".gitignore").write_text(lines, encoding="utf-8")
    res = check(root)
    assert res.exit_code == 1 and GOOD_FINDING in findings(res.json())


def test_a_fifo_is_skipped_not_read(tmp_path):
    root = project(tmp_path)
    os.mkfifo(root / "f.py")
    _assert_error(check(root, timeout=30), "f.py", "FIFO")


def test_a_link_to_a_device_is_not_read(tmp_path):
    root = project(tmp_path)
    (root / "zero.py").symlink_to("/dev/zero")
    _assert_error(check(root, timeout=30), "zero.py", "device")


def test_a_sentinel_value_read_from_a_device_is_a_config_error(tmp_path):
    root = project(tmp_path)
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'p'\nversion = '0'\n[tool.sentinel-lint.sentinel]\nvalue = \"/dev/zero:X\"\n",
        encoding="utf-8")
    res = cli_subprocess("check", ".", cwd=root, timeout=30)
    assert res.exit_code == 2 and "sentinel-lint: error:" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("pyproject", ['tool = "x"\n', "[tool]\nsentinel-lint = 3\n", "[tool.sentinel-lint]\nselect = 1\n",
                                       "[tool.sentinel-lint]\nsentinel = 1\n", "\xff\n"])
def test_odd_configuration_is_an_error_not_a_traceback(tmp_path, pyproject):
    root = project(tmp_path)
    (root / "pyproject.toml").write_bytes(pyproject.encode("latin-1"))
    res = cli_subprocess("check", ".", cwd=root)
    assert res.exit_code == 2 and "sentinel-lint: error:" in res.stderr and "Traceback" not in res.stderr


def test_an_unreadable_pyproject(tmp_path):
    root = project(tmp_path)
    (root / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    os.chmod(root / "pyproject.toml", 0)
    proc = run_unprivileged(root, "check", ".")
    assert proc.returncode == 2 and "pyproject.toml" in proc.stderr and "cannot read" in proc.stderr


def test_an_unreadable_gitignore_and_directory(tmp_path):
    root = project(tmp_path)
    (root / ".gitignore").write_text("*.tmp\n", encoding="utf-8")
    os.chmod(root / ".gitignore", 0)
    (root / "closed").mkdir()
    (root / "closed" / "k.py").write_text(GOOD, encoding="utf-8")
    os.chmod(root / "closed", 0)
    try:
        proc = run_unprivileged(root, "check", "--no-cache", "--output-format", "json", ".")
    finally:
        os.chmod(root / "closed", 0o755)
    import json

    doc = json.loads(proc.stdout)
    assert proc.returncode == 2
    assert GOOD_FINDING in findings(doc)
    reasons = {e["path"]: e["reason"] for e in doc["errors"]}
    assert "cannot read" in reasons.get(".gitignore", ""), reasons
    assert "cannot read directory" in reasons.get("closed", ""), reasons


def test_output_into_a_missing_directory(tmp_path):
    root = project(tmp_path)
    res = cli_subprocess("check", "--output-format", "sarif", "-o", "reports/deep/x.sarif", ".", cwd=root)
    assert res.exit_code == 1 and "Traceback" not in res.stderr
    assert (root / "reports" / "deep" / "x.sarif").is_file()
    (root / "blocked").write_text("a file, not a directory\n", encoding="utf-8")
    res = cli_subprocess("check", "-o", "blocked/x.txt", ".", cwd=root)
    assert res.exit_code == 2 and "cannot write" in res.stderr and "Traceback" not in res.stderr


def test_a_newline_in_a_file_name_stays_on_one_line(tmp_path):
    root = project(tmp_path)
    (root / "good.py").rename(root / "go\nod.py")
    res = cli_subprocess("check", ".", cwd=root)
    first = res.stdout.splitlines()[0]
    assert first.startswith("go\\nod.py:8:") and "SL001" in first


# -- no silent miss ---------------------------------------------------------------------------------------------

NESTED = """\
import triton
import triton.language as tl

HAS_TRITON = True
if HAS_TRITON:

    @triton.jit
    def k_nested(state, state_indices, D: tl.constexpr):
        \"\"\"Docstring
whose second line starts at column 0.
\"\"\"
        idx = tl.load(state_indices + tl.program_id(0))
# a comment at column 0
        total = idx + \\
1
\f        if idx < 0:
            return
        tl.store(state + idx * D, 1.0)
"""


def test_a_nested_kernel_with_column_zero_lines_is_analysed(tmp_path):
    root = project(tmp_path, **{"nested.py": NESTED})
    res = check(root)
    assert ("nested.py", 16, "SL001") in findings(res.json()), res.stdout


def test_a_deeply_nested_generated_file_is_analysed(tmp_path):
    """Generated tables nest deeply without brackets (a long sum is a left-leaning tree 800 levels deep)."""
    table = "TABLE = " + " + ".join(f"x{i}" for i in range(800)) + "\n"
    root = project(tmp_path, **{"table.py": table})
    res = cli_subprocess("check", "--output-format", "json", "table.py", "good.py", cwd=root)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert res.json()["errors"] == []


def test_a_latin1_file_with_old_mac_line_endings(tmp_path):
    root = project(tmp_path)
    text = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + GOOD.replace("def k(", "def k_mac(")
    (root / "mac.py").write_bytes(text.replace("\n", "\r").encode("latin-1"))
    res = check(root)
    doc = res.json()
    assert doc["errors"] == [] and ("mac.py", 10, "SL001") in findings(doc)
