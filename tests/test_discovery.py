"""The walk skips what .gitignore files skip: the same files as git itself."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from sentinel_lint.discovery import iter_python_files

ROOT_IGNORE = """\
# literal names, globs, anchored paths, directories only, negation, ** and classes
build/
*.tmp.py
gen_*.py
!gen_keep.py
/top_only.py
docs/*.py
**/generated/*.py
[ab]_scratch.py
cache
"""

FILES = [
    "pkg/mod.py", "pkg/gen_ops.py", "pkg/gen_keep.py", "pkg/x.tmp.py", "top_only.py", "pkg/top_only.py",
    "docs/conf.py", "docs/api/deep.py", "build/out.py", "pkg/build/out.py", "pkg/generated/a.py",
    "pkg/sub/generated/b.py", "a_scratch.py", "c_scratch.py", "cache/c.py", "pkg/cache.py", "pkg/cache/d.py",
    "nested/keep.py", "nested/local.py", "nested/deeper/local.py", "nested/other.py",
]


@pytest.fixture
def tree(tmp_path):
    for rel in FILES:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text(ROOT_IGNORE, encoding="utf-8")
    (tmp_path / "nested" / ".gitignore").write_text("local.py\n/other.py\n!keep.py\n", encoding="utf-8")
    return tmp_path


def walked(root) -> list[str]:
    return sorted(display for _, display in iter_python_files([root], root, ("*.py",), ()))


def test_gitignore_rules(tree):
    assert walked(tree) == sorted([
        "pkg/mod.py", "pkg/gen_keep.py", "pkg/top_only.py", "pkg/cache.py", "docs/api/deep.py", "c_scratch.py",
        "nested/keep.py",
    ])


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to compare with")
def test_same_files_as_git(tree):
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    listed = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=tree, check=True,
                            capture_output=True, text=True).stdout.split()
    assert walked(tree) == sorted(p for p in listed if p.endswith(".py"))


def test_excludes_and_no_gitignore(tree):
    everything = sorted(iter_python_files([tree], tree, ("*.py",), (), use_gitignore=False))
    assert len(everything) == len(FILES)
    excluded = {d for _, d in iter_python_files([tree], tree, ("*.py",), ("pkg/**", "*_scratch.py"),
                                                use_gitignore=False)}
    assert not any(d.startswith("pkg/") or d.endswith("_scratch.py") for d in excluded)
    assert "docs/conf.py" in excluded
