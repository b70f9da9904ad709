"""``sentinel-lint fix``: minimal token edits, idempotent, --diff/--check, and byte-exact preservation."""
from __future__ import annotations

import ast
import os
import stat

import pytest

from helpers import (KERNELS, PROJECTS, check_json, cli, copy_tree, expected_markers, fixture_args,
                     only_guard_tokens_changed)

BUGGY = sorted(p.name for p in KERNELS.glob("*.py") if expected_markers(p))

KERNEL_SRC = (
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
    "    offs = tl.arange(0, D)\n"
    "    tl.store(state + idx * D + offs, offs, mask=idx >= 0)\n"
)


@pytest.fixture
def kernels_copy(tmp_path):
    return copy_tree(KERNELS, tmp_path / "kernels")


@pytest.mark.parametrize("name", BUGGY)
def test_fix_each_buggy_fixture(kernels_copy, name):
    path = kernels_copy / name
    args = fixture_args(path)
    before = path.read_text(encoding="utf-8")
    _, doc = check_json(*args, path)
    # lone kernel files: the pack's convention is assumed, so their fixes are unsafe and applied with --unsafe-fixes
    fixable = [d for d in doc["diagnostics"] if "fix" in d]

    res = cli("fix", "--unsafe-fixes", "--no-cache", *args, path)
    after = path.read_text(encoding="utf-8")
    ast.parse(after)
    only_guard_tokens_changed(before, after)
    assert (after != before) == bool(fixable)

    # re-check: only what has no automatic fix is left
    code, doc2 = check_json(*args, path)
    assert all("fix" not in d for d in doc2["diagnostics"])
    assert len(doc2["diagnostics"]) == len(doc["diagnostics"]) - len(fixable)
    assert res.exit_code == (1 if doc2["diagnostics"] else 0)

    # idempotent: a second fix changes nothing and --check agrees
    cli("fix", "--unsafe-fixes", "--no-cache", *args, path)
    assert path.read_text(encoding="utf-8") == after
    assert cli("fix", "--check", "--unsafe-fixes", "--no-cache", *args, path).exit_code == 0


@pytest.mark.parametrize("name", ["guard_ops_null_block.py", "guard_forms.py", "pack_pad_slot_id.py"])
def test_diff_writes_nothing(kernels_copy, name):
    path = kernels_copy / name
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    res = cli("fix", "--diff", "--unsafe-fixes", "--no-cache", *fixture_args(path), path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    out = res.stdout
    assert f"--- a/{name}" in out and f"+++ b/{name}" in out and "@@ " in out
    removed = [l for l in out.splitlines() if l.startswith("-") and not l.startswith("---")]
    added = [l for l in out.splitlines() if l.startswith("+") and not l.startswith("+++")]
    assert removed and len(removed) == len(added)
    # applying the printed change gives what `fix` writes
    cli("fix", "--unsafe-fixes", "--no-cache", *fixture_args(path), path)
    fixed = path.read_text(encoding="utf-8").splitlines()
    assert all(l[1:] in fixed for l in added)


def test_check_exit_codes(kernels_copy):
    path = kernels_copy / "forms_triton_jit.py"
    before = path.read_bytes()
    res = cli("fix", "--check", "--unsafe-fixes", "--no-cache", path)
    assert res.exit_code == 1
    assert "Would fix forms_triton_jit.py:10:8: SL001" in res.stdout
    assert path.read_bytes() == before
    assert cli("fix", "--unsafe-fixes", "--no-cache", path).exit_code == 0
    assert cli("fix", "--check", "--unsafe-fixes", "--no-cache", path).exit_code == 0


def _project(tmp_path, body: bytes, name="k.py"):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n", encoding="utf-8")
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_crlf_latin1_and_mode_preserved(tmp_path):
    src = "# -*- coding: latin-1 -*-\n# r\xe9sum\xe9 of the state update\n" + KERNEL_SRC
    body = src.replace("\n", "\r\n").encode("latin-1")
    path = _project(tmp_path, body)
    os.chmod(path, 0o751)
    res = cli("fix", "--unsafe-fixes", "--no-cache", path)
    assert res.exit_code == 0, res.stdout + res.stderr
    data = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert b"r\xe9sum\xe9" in data  # still latin-1, not re-encoded as UTF-8
    assert data.count(b"\r\n") == body.count(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert data == body.replace(b"if idx < 0:", b"if idx <= 0:").replace(b"mask=idx >= 0", b"mask=idx > 0")


def test_utf8_bom_preserved(tmp_path):
    body = b"\xef\xbb\xbf" + KERNEL_SRC.encode()
    path = _project(tmp_path, body)
    cli("fix", "--unsafe-fixes", "--no-cache", path)
    assert path.read_bytes() == body.replace(b"if idx < 0:", b"if idx <= 0:").replace(b"mask=idx >= 0", b"mask=idx > 0")


def test_clean_file_is_never_rewritten(tmp_path):
    clean = _project(tmp_path, KERNEL_SRC.replace("idx < 0", "idx <= 0").replace("idx >= 0", "idx > 0").encode(),
                     "clean.py")
    buggy = tmp_path / "buggy.py"
    buggy.write_text(KERNEL_SRC, encoding="utf-8")
    old = 1_000_000_000
    os.utime(clean, ns=(old, old))
    inode = clean.stat().st_ino
    assert cli("fix", "--unsafe-fixes", "--no-cache", tmp_path).exit_code == 0
    assert clean.stat().st_mtime_ns == old and clean.stat().st_ino == inode
    assert "idx <= 0" in buggy.read_text(encoding="utf-8")
    os.utime(buggy, ns=(old, old))
    cli("fix", "--unsafe-fixes", "--no-cache", tmp_path)
    assert buggy.stat().st_mtime_ns == old  # nothing left to fix: not rewritten either


def test_fix_project_and_recheck(tmp_path):
    root = copy_tree(PROJECTS / "gdn_null_block", tmp_path / "p")
    before = (root / "gdn" / "ops.py").read_text(encoding="utf-8")
    assert cli("fix", "--unsafe-fixes", "--no-cache", root).exit_code == 0
    after = (root / "gdn" / "ops.py").read_text(encoding="utf-8")
    only_guard_tokens_changed(before, after)
    assert "if idx <= 0:" in after and "(idx > 0), other=0.0)" in after
    code, doc = check_json(root)
    assert code == 0 and doc["diagnostics"] == []


def test_pack_default_fix_on_named_constant_is_left_alone(kernels_copy):
    path = kernels_copy / "named_constants.py"
    before = path.read_text(encoding="utf-8")
    res = cli("fix", "--unsafe-fixes", "--no-cache", *fixture_args(path), path)
    assert res.exit_code == 1
    assert path.read_text(encoding="utf-8") == before
    assert "(not fixed: the constant is a name; change it by hand)" in res.stdout
