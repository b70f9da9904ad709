"""Which files to read: walk the given paths, apply include/exclude globs and .gitignore, prefilter on bytes."""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path

# Directories nobody wants linted; matched on the directory name.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "node_modules",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", ".sentinel-lint-cache", "site-packages"})


@dataclass(frozen=True)
class GitIgnoreRule:
    base: str  # directory of the .gitignore, relative to the root, "" for the root
    regex: re.Pattern
    negated: bool
    dir_only: bool


def _glob_to_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i)
            if j == -1:
                out.append(re.escape(c))
                i += 1
            else:
                out.append(pattern[i:j + 1].replace("!", "^", 1) if pattern[i + 1:i + 2] == "!" else pattern[i:j + 1])
                i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def parse_gitignore(text: str, base: str) -> list[GitIgnoreRule]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        body = _glob_to_regex(line)
        regex = re.compile(("^" if anchored else "^(?:.*/)?") + body + "$")
        rules.append(GitIgnoreRule(base, regex, negated, dir_only))
    return rules


class Ignorer:
    """.gitignore rules (root and nested) plus the configured exclude globs."""

    def __init__(self, root: Path, exclude: tuple[str, ...], use_gitignore: bool):
        self.root = root
        self.exclude = exclude
        self.use_gitignore = use_gitignore
        self.rules: list[GitIgnoreRule] = []

    def load_dir(self, directory: Path) -> None:
        if not self.use_gitignore:
            return
        gitignore = directory / ".gitignore"
        if gitignore.is_file():
            try:
                base = directory.relative_to(self.root).as_posix()
            except ValueError:
                return
            base = "" if base == "." else base
            self.rules += parse_gitignore(gitignore.read_text(encoding="utf-8", errors="replace"), base)

    def ignored(self, path: Path, is_dir: bool) -> bool:
        try:
            rel = path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            rel = path.as_posix()
        for pattern in self.exclude:
            if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(path.name, pattern) or (
                pattern.endswith("/**") and (rel + "/").startswith(pattern[:-2])
            ):
                return True
        verdict = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.base:
                if not rel.startswith(rule.base + "/"):
                    continue
                sub = rel[len(rule.base) + 1:]
            else:
                sub = rel
            if rule.regex.match(sub):
                verdict = not rule.negated
        return verdict


def iter_python_files(paths: list[Path], root: Path, include: tuple[str, ...], exclude: tuple[str, ...],
                      use_gitignore: bool = True) -> list[Path]:
    """Python files under ``paths`` in a stable order.  A file named explicitly is always taken."""
    ignorer = Ignorer(root.resolve(), exclude, use_gitignore)
    ignorer.load_dir(root.resolve())
    seen: set[Path] = set()
    out: list[Path] = []
    for path in paths:
        if path.is_file():
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                out.append(path)
            continue
        if not path.is_dir():
            continue
        resolved_top = path.resolve()
        # .gitignore files between the root and a deeper starting directory apply too
        try:
            rel_parts = resolved_top.relative_to(root.resolve()).parts
        except ValueError:
            rel_parts = ()
        current = root.resolve()
        for part in rel_parts:
            current = current / part
            ignorer.load_dir(current)
        for dirpath, dirnames, filenames in os.walk(path):
            directory = Path(dirpath)
            if directory.resolve() != resolved_top:
                ignorer.load_dir(directory)
            dirnames[:] = sorted(
                d for d in dirnames
                if d not in SKIP_DIRS and not d.endswith(".egg-info") and not ignorer.ignored(directory / d, True)
            )
            for name in sorted(filenames):
                candidate = directory / name
                if not any(fnmatch.fnmatchcase(name, pattern) for pattern in include):
                    continue
                if ignorer.ignored(candidate, False):
                    continue
                resolved = candidate.resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    out.append(candidate)
    return out


def might_hold_kernel(data: bytes) -> bool:
    """Cheap byte test: a Triton kernel needs both words in its file."""
    return b"jit" in data and b"triton" in data


def index_vocabulary(patterns) -> list[bytes]:
    """Byte needles from name patterns (``*block_table*`` → ``block_table``) for the host prefilter."""
    needles = set()
    for pattern in patterns:
        core = pattern.strip("*")
        if core and not any(ch in core for ch in "*?["):
            needles.add(core.encode())
    return sorted(needles)


def might_carry_indices(data: bytes, needles: list[bytes]) -> bool:
    """Host code that writes, passes or launches index tensors names one of them (or a sentinel constant)."""
    return any(n in data for n in needles) or b"PAD_" in data or b"NULL_" in data
