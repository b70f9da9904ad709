"""Stage 1, plan: which files are checked (reported on) and which the project holds (read for inference)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PROJECT_MARKERS, Settings
from ..diagnostics import FileError
from ..discovery import index_vocabulary, nested_project_filter, prefilter_needles, walk_python_files
from ..model.project import module_name_for


@dataclass(frozen=True)
class FileEntry:
    path: Path
    display: str  # relative to the project root, with "/" separators (absolute outside it)
    module: str  # dotted module name guessed from the path
    reported: bool  # inside the paths being checked: its findings and its errors are reported
    explicit: bool  # named on the command line: analysed whatever the prefilter says
    infer: bool  # its padding and value flow count for inference (not a test, benchmark or nested project)


@dataclass(frozen=True)
class Plan:
    root: Path
    files: tuple[FileEntry, ...]  # the checked files first, then the rest of the project
    errors: tuple[FileError, ...]  # what the walk could not read
    needles: tuple[bytes, ...]  # the host prefilter's words
    explicit: frozenset[str] = frozenset()  # absolute paths of the files named on the command line
    _by_display: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self._by_display.update((f.display, f) for f in self.files)

    @property
    def reported(self) -> list[str]:
        return sorted(f.display for f in self.files if f.reported)

    def entry(self, display: str) -> FileEntry | None:
        return self._by_display.get(display)

    def infers_from(self, display: str) -> bool:
        entry = self._by_display.get(display)
        return entry is not None and entry.infer


def plan_files(paths: list[Path], settings: Settings) -> Plan:
    root = settings.root
    walk = walk_python_files(paths, root, settings.include, settings.exclude, settings.respect_gitignore)
    errors = list(walk.errors)
    reported = {display for _, display in walk.files}
    found = list(walk.files)
    if settings.infer and not any(os.path.abspath(p) == os.path.abspath(root) for p in paths):
        # Conventions come from the whole project, not only from the files being checked.
        project = walk_python_files([root], root, settings.include, settings.exclude, settings.respect_gitignore)
        errors += [e for e in project.errors if e not in set(errors)]
        found += [(path, display) for path, display in project.files if display not in reported]
    # Padding counts where it is this project's: not in tests or benchmarks, nor in a project of its own below the
    # root (a fixture tree, a vendored package with its own pyproject.toml).
    foreign = nested_project_filter([d for _, d in found], root, PROJECT_MARKERS)
    explicit = frozenset(os.path.abspath(p) for p in paths if p.is_file())
    files = tuple(
        FileEntry(path, display, module_name_for(display), display in reported, str(path) in explicit,
                  settings.infer and settings.infers_from(display) and not foreign(display))
        for path, display in found)
    needles = index_vocabulary(
        [p for rule in settings.explicit for p in rule.params]
        + [p for rule in (settings.fallback.tensors if settings.fallback else ()) for p in rule.params]
        + list(settings.index_params))
    return Plan(root, files, tuple(errors), prefilter_needles(needles), explicit)
