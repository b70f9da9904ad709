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
    pattern: str  # the rule as a regular expression over paths relative to ``base``
    negated: bool
    dir_only: bool
    basename: str | None = None  # a pattern with no "/" (nor "**" or a class) matches names: its regex on a name
    literal: str | None = None  # ... and one with no wildcard at all is just that name

    @property
    def regex(self) -> re.Pattern:
        return _compiled(self.pattern)


_COMPILED: dict[str, re.Pattern] = {}


def _compiled(pattern: str) -> re.Pattern:
    regex = _COMPILED.get(pattern)
    if regex is None:
        regex = _COMPILED[pattern] = re.compile(pattern)
    return regex


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
        by_name = not anchored and "**" not in line and "[" not in line
        literal = line if by_name and not any(c in line for c in "*?\\") else None
        rules.append(GitIgnoreRule(base, ("^" if anchored else "^(?:.*/)?") + body + "$", negated, dir_only,
                                   body if by_name else None, literal))
    return rules


class Ignorer:
    """.gitignore rules (root and nested) plus the configured exclude globs, on root-relative POSIX paths."""

    def __init__(self, root: str, exclude: tuple[str, ...], use_gitignore: bool):
        self.root = root
        self.exclude = exclude
        self.use_gitignore = use_gitignore
        self.rules: list[GitIgnoreRule] = []
        self._loaded: set[str] = set()
        # Per .gitignore (in load order), what tells that no rule can match a path (most paths): the literal names
        # it lists, one alternation of its name patterns (matched on the last part only) and one of the rest.
        self._groups: list[tuple[str, frozenset, re.Pattern | None, re.Pattern | None, list[GitIgnoreRule]]] = []

    def load_dir(self, rel_dir: str) -> None:
        """Read ``rel_dir/.gitignore`` once (``""`` is the root)."""
        if not self.use_gitignore or rel_dir in self._loaded:
            return
        self._loaded.add(rel_dir)
        gitignore = os.path.join(self.root, rel_dir, ".gitignore")
        if os.path.isfile(gitignore):
            with open(gitignore, encoding="utf-8", errors="replace") as fh:
                rules = parse_gitignore(fh.read(), rel_dir)
            if rules:
                self.rules += rules
                names = frozenset(r.literal for r in rules if r.literal is not None)
                globs = [r.basename for r in rules if r.basename is not None and r.literal is None]
                paths = [r.pattern for r in rules if r.basename is None]
                by_name = re.compile("(?:" + "|".join(globs) + r")\Z") if globs else None
                by_path = re.compile("|".join(f"(?:{p})" for p in paths)) if paths else None
                self._groups.append((rel_dir, names, by_name, by_path, rules))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        name = rel.rsplit("/", 1)[-1]
        for pattern in self.exclude:
            if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(name, pattern) or (
                pattern.endswith("/**") and (rel + "/").startswith(pattern[:-2])
            ):
                return True
        verdict = False
        for base, names, by_name, by_path, rules in self._groups:  # the last matching rule wins, across files too
            if base:
                if not rel.startswith(base + "/"):
                    continue
                sub = rel[len(base) + 1:]
            else:
                sub = rel
            if not (name in names or (by_name is not None and by_name.match(name))
                    or (by_path is not None and by_path.match(sub))):
                continue
            for rule in rules:
                if (is_dir or not rule.dir_only) and rule.regex.match(sub):
                    verdict = not rule.negated
        return verdict


def _relative(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return rel.replace(os.sep, "/") if not rel.startswith("..") else os.path.abspath(path).replace(os.sep, "/")


def iter_python_files(paths: list[Path], root: Path, include: tuple[str, ...], exclude: tuple[str, ...],
                      use_gitignore: bool = True) -> list[tuple[Path, str]]:
    """(path, root-relative display name) of the Python files under ``paths``, in a stable order.

    A file named explicitly is always taken; directories are walked with excludes and .gitignore applied.  Paths
    are handled as strings (no symlink resolution per file: the walk is on the hot path of every run).
    """
    root_abs = os.path.abspath(root)
    ignorer = Ignorer(root_abs, exclude, use_gitignore)
    ignorer.load_dir("")
    seen: set[str] = set()
    out: list[tuple[Path, str]] = []
    for path in paths:
        top = os.path.abspath(path)
        if os.path.isfile(top):
            if top not in seen:
                seen.add(top)
                out.append((Path(top), _relative(top, root_abs)))
            continue
        if not os.path.isdir(top):
            continue
        top_rel = _relative(top, root_abs)
        if top_rel == ".":
            top_rel = ""
        parts = top_rel.split("/") if top_rel and not top_rel.startswith("/") else []
        for i in range(len(parts)):  # .gitignore files between the root and a deeper start directory apply too
            ignorer.load_dir("/".join(parts[:i]))
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = _relative(dirpath, root_abs) if dirpath != top else top_rel
            rel_dir = "" if rel_dir == "." else rel_dir
            ignorer.load_dir(rel_dir)
            prefix = rel_dir + "/" if rel_dir else ""
            dirnames[:] = sorted(
                d for d in dirnames
                if d not in SKIP_DIRS and not d.endswith(".egg-info") and not ignorer.ignored(prefix + d, True)
            )
            for name in sorted(filenames):
                if not any(fnmatch.fnmatchcase(name, pattern) for pattern in include):
                    continue
                rel = prefix + name
                if ignorer.ignored(rel, False):
                    continue
                full = os.path.join(dirpath, name)
                if full not in seen:
                    seen.add(full)
                    out.append((Path(full), rel))
    return out


# How a kernel is made, as the facts pass recognises it: a decorator whose dotted name ends in `jit`
# (`@triton.jit`, `@jit`, `@tl_jit(...)`), or an assignment `kernel = triton.jit(fn)`.
_KERNEL_MAKER = re.compile(rb"@[ \t]*\(?[ \t]*[\w.]*jit\b|=[ \t]*[\w.]*jit[ \t]*\(")


def might_hold_kernel(data: bytes) -> bool:
    """Cheap byte test: a Triton kernel needs the word triton in its file (an import) and a jit decorator or call
    (a configuration file that merely mentions "jit" and "triton" has neither)."""
    return b"jit" in data and b"triton" in data and _KERNEL_MAKER.search(data) is not None


def index_vocabulary(patterns) -> list[bytes]:
    """Byte needles from name patterns (``*block_table*`` → ``block_table``) for the host prefilter."""
    needles = set()
    for pattern in patterns:
        core = pattern.strip("*")
        if core and not any(ch in core for ch in "*?["):
            needles.add(core.encode())
    return sorted(needles)


# Upper-case sentinel words as constants spell them (PAD_SLOT_ID, NULL_BLOCK_ID, INVALID_SLOT, EMPTY_PAGE, ...).
_SENTINEL_WORDS = (b"PAD", b"NULL", b"INVALID", b"SENTINEL", b"EMPTY", b"DUMMY", b"UNUSED")


def prefilter_needles(needles) -> tuple[bytes, ...]:
    """The needles worth searching: one that contains another (``block_tables`` and ``block_table``) can only be
    found where the shorter one is, so only the shorter is searched."""
    unique = sorted(set(needles), key=len)
    return tuple(n for i, n in enumerate(unique) if not any(m in n for m in unique[:i]))


def might_carry_indices(data: bytes, needles) -> bool:
    """Host code that writes, passes or launches index tensors names one of them (or a sentinel constant)."""
    if any(n in data for n in needles):
        return True
    # One search per sentinel word, and the `WORD_` / `_WORD` forms only where the word is there at all.
    return any(word in data and (word + b"_" in data or b"_" + word in data) for word in _SENTINEL_WORDS)


def nested_project_filter(displays, root: Path, markers: tuple[str, ...]):
    """A predicate: is this root-relative file inside a project of its own below the root (a directory with its own
    pyproject.toml, setup.py, ...)?  Such a project pads its tensors for its own kernels, not for the root's."""
    root_abs = os.path.abspath(root)
    nested: dict[str, bool] = {}

    def is_project(rel_dir: str) -> bool:
        if rel_dir not in nested:
            base = os.path.join(root_abs, rel_dir)
            nested[rel_dir] = any(os.path.exists(os.path.join(base, m)) for m in markers)
        return nested[rel_dir]

    def inside(display: str) -> bool:
        if display.startswith("/"):
            return False
        parts = display.split("/")[:-1]
        return any(is_project("/".join(parts[:i])) for i in range(1, len(parts) + 1))

    for display in displays:  # settle every directory once, up front, outside the hot loop's branches
        inside(display)
    return inside
