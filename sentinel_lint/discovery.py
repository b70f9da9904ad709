"""Which files to read: walk the given paths, apply include/exclude globs and .gitignore, prefilter on bytes."""
from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import FileError
from .vocabulary import sentinel_bytes

# Directories nobody wants linted; matched on the directory name.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "node_modules",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", ".sentinel-lint-cache", "site-packages"})


try:  # pathspec >= 1.0
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern as _GitPattern
except ImportError:  # pragma: no cover - pathspec 0.12
    from pathspec.patterns.gitwildmatch import GitWildMatchPattern as _GitPattern


@dataclass(frozen=True)
class GitIgnoreRule:
    base: str  # directory of the .gitignore, relative to the root, "" for the root
    regex: re.Pattern  # over paths relative to ``base``; a directory is tested with a trailing "/"
    negated: bool
    by_name: re.Pattern | None = None  # a rule with no "/" inside matches on the last part of a path alone
    literal: str | None = None  # ... and one with no wildcard is just that name


_ANYWHERE = "^(?:.+/)?"  # pathspec's prefix of a pattern that may match at any depth
_END = "(?:/|$)"  # ... and its end: the name itself, or a directory of that name


def _translate(line: str) -> tuple[str, bool] | None:
    """git's meaning of one .gitignore line as (regular expression, ignores), translated by pathspec; None for a
    blank line, a comment, or a pattern that can match nothing (``[]``, ``[!]``)."""
    try:
        regex, include = _GitPattern.pattern_to_regex(line)
    except ValueError:  # pathspec's pattern errors: git ignores such a line (a lone trailing backslash)
        return None
    if regex is None:
        return None
    # pathspec marks a directory match with a named group; rules are combined into one alternation below, where
    # a name may appear only once.
    return regex.replace("(?P<ps_d>/)", "/"), bool(include)


def parse_gitignore(text: str, base: str) -> list[GitIgnoreRule]:
    rules = []
    for line in text.splitlines():
        translated = _translate(line)
        if translated is None:
            continue
        pattern, ignores = translated
        try:
            regex = re.compile(pattern)
        except re.error:
            continue  # git's matcher fails on such a pattern (``[z-a].py``) and it matches nothing
        by_name = literal = None
        core = pattern[len(_ANYWHERE):] if pattern.startswith(_ANYWHERE) else ""
        end = _END if core.endswith(_END) else "/" if core.endswith("/") else None
        name = core[:-len(end)] if end else ""
        if end and "/" not in name.replace("[^/]", ""):  # one path part: match it on the last part alone
            by_name = re.compile("^" + core)
            unescaped = re.sub(r"\\(.)", r"\1", name)
            if end == _END and re.escape(unescaped) == name:
                literal = unescaped
        rules.append(GitIgnoreRule(base, regex, not ignores, by_name, literal))
    return rules


class Ignorer:
    """.gitignore rules (root and nested) plus the configured exclude globs, on root-relative POSIX paths."""

    def __init__(self, root: str, exclude: tuple[str, ...], use_gitignore: bool, errors: list | None = None):
        self.root = root
        self.exclude = exclude
        self.use_gitignore = use_gitignore
        self.errors = errors if errors is not None else []
        self._loaded: set[str] = set()
        # Per .gitignore (in load order), what tells that no rule can match a path (most paths): the literal names
        # it lists, one alternation of its other by-name rules (on the last part only) and one of the rest; then
        # its rules in order for the last-match-wins verdict.
        self._groups: list[tuple[str, frozenset, re.Pattern | None, re.Pattern | None, list[GitIgnoreRule]]] = []

    def load_dir(self, rel_dir: str) -> None:
        """Read ``rel_dir/.gitignore`` once (``""`` is the root)."""
        if not self.use_gitignore or rel_dir in self._loaded:
            return
        self._loaded.add(rel_dir)
        gitignore = os.path.join(self.root, rel_dir, ".gitignore")
        try:
            text = read_text_file(gitignore)
        except FileNotFoundError:
            return
        except OSError as exc:
            rel = f"{rel_dir}/.gitignore" if rel_dir else ".gitignore"
            self.errors.append(FileError(rel, 1, 0, f"cannot read .gitignore: {exc.strerror or exc}"))
            return
        if text is None:
            return
        rules = parse_gitignore(text, rel_dir)
        if rules:
            names = frozenset(r.literal for r in rules if r.literal is not None)
            globs = [r.by_name.pattern for r in rules if r.by_name is not None and r.literal is None]
            paths = [r.regex.pattern for r in rules if r.by_name is None]
            by_name = re.compile("|".join(f"(?:{g})" for g in globs)) if globs else None
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
        tested = name + "/" if is_dir else name
        for base, names, by_name, by_path, rules in self._groups:  # the last matching rule wins, across files too
            if base:
                if not rel.startswith(base + "/"):
                    continue
                sub = rel[len(base) + 1:]
            else:
                sub = rel
            if is_dir:
                sub += "/"
            if not (name in names or (by_name is not None and by_name.match(tested))
                    or (by_path is not None and by_path.match(sub))):
                continue
            for rule in rules:
                if rule.regex.match(sub):
                    verdict = not rule.negated
        return verdict


def read_text_file(path: str, limit: int = 1024 * 1024) -> str | None:
    """A small text file (a .gitignore), read only if it is a regular file; None if it is not one."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(limit).decode("utf-8", errors="replace")


def _relative(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return rel.replace(os.sep, "/") if not rel.startswith("..") else os.path.abspath(path).replace(os.sep, "/")


@dataclass
class Walk:
    files: list[tuple[Path, str]] = field(default_factory=list)  # (path, root-relative display name)
    errors: list[FileError] = field(default_factory=list)  # unreadable directories, odd names, odd files


def _undecodable(name: str) -> bool:
    """A name that is not valid UTF-8 (os.walk hands it over with surrogate escapes): it cannot be printed as it
    is, nor named in a report that tools can read back."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _shown(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def walk_python_files(paths: list[Path], root: Path, include: tuple[str, ...], exclude: tuple[str, ...],
                      use_gitignore: bool = True) -> Walk:
    """The Python files under ``paths``, in a stable order, and what could not be walked.

    A file named explicitly is always taken; directories are walked with excludes and .gitignore applied.  Paths
    are handled as strings (no symlink resolution per file: the walk is on the hot path of every run).  A
    directory that cannot be read, a name that is not UTF-8 or an explicit path that is neither a file nor a
    directory is reported, never skipped in silence.
    """
    root_abs = os.path.abspath(root)
    walk = Walk()
    ignorer = Ignorer(root_abs, exclude, use_gitignore, walk.errors)
    ignorer.load_dir("")
    seen: set[str] = set()
    for path in paths:
        top = os.path.abspath(path)
        if _undecodable(top):
            walk.errors.append(FileError(_shown(_relative(top, root_abs)), 1, 0,
                                         "file name is not valid UTF-8; skipped"))
            continue
        if os.path.isfile(top):
            if top not in seen:
                seen.add(top)
                walk.files.append((Path(top), _relative(top, root_abs)))
            continue
        if not os.path.isdir(top):
            if os.path.lexists(top):
                walk.errors.append(FileError(_relative(top, root_abs), 1, 0,
                                             "not a regular file or directory; skipped"))
            continue
        top_rel = _relative(top, root_abs)
        if top_rel == ".":
            top_rel = ""
        parts = top_rel.split("/") if top_rel and not top_rel.startswith("/") else []
        for i in range(len(parts)):  # .gitignore files between the root and a deeper start directory apply too
            ignorer.load_dir("/".join(parts[:i]))

        def unreadable(exc: OSError) -> None:
            where = _relative(exc.filename, root_abs) if exc.filename else top_rel or "."
            walk.errors.append(FileError(_shown(where), 1, 0, f"cannot read directory: {exc.strerror or exc}"))

        for dirpath, dirnames, filenames in os.walk(top, onerror=unreadable):
            rel_dir = _relative(dirpath, root_abs) if dirpath != top else top_rel
            rel_dir = "" if rel_dir == "." else rel_dir
            ignorer.load_dir(rel_dir)
            prefix = rel_dir + "/" if rel_dir else ""
            kept = []
            for d in sorted(dirnames):
                if d in SKIP_DIRS or d.endswith(".egg-info") or ignorer.ignored(prefix + d, True):
                    continue
                if _undecodable(d):
                    walk.errors.append(FileError(_shown(prefix + d), 1, 0,
                                                 "directory name is not valid UTF-8; skipped"))
                    continue
                kept.append(d)
            dirnames[:] = kept
            for name in sorted(filenames):
                if not any(fnmatch.fnmatchcase(name, pattern) for pattern in include):
                    continue
                rel = prefix + name
                if ignorer.ignored(rel, False):
                    continue
                if _undecodable(name):
                    walk.errors.append(FileError(_shown(rel), 1, 0, "file name is not valid UTF-8; skipped"))
                    continue
                full = os.path.join(dirpath, name)
                if full not in seen:
                    seen.add(full)
                    walk.files.append((Path(full), rel))
    return walk


def iter_python_files(paths: list[Path], root: Path, include: tuple[str, ...], exclude: tuple[str, ...],
                      use_gitignore: bool = True) -> list[tuple[Path, str]]:
    """(path, root-relative display name) of the Python files under ``paths`` (see ``walk_python_files``)."""
    return walk_python_files(paths, root, include, exclude, use_gitignore).files


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
_SENTINEL_WORDS = sentinel_bytes()


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
