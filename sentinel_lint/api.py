"""The public API: run the linter and get results back; nothing here prints (the CLI and the editor server do).

``check`` analyses, ``fix`` analyses and rewrites, ``conventions`` returns what reaches each kernel index parameter.
Settings come from ``config.load_settings``; every function takes the same ``jobs``, ``cache_dir`` and
``progress`` (a callable given the number of files done, or None).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .diagnostics import Diagnostic, FileError
from .engine import RunResult, run
from .fix import FileFix, FixError, StaleText, fix_file
from .conventions import ParamConvention


def check(paths: list[Path], settings: Settings, *, jobs: int | None = None, cache_dir: Path | None = None,
          progress=None) -> RunResult:
    """Findings (diagnostics) and per-file errors for ``paths``, conventions inferred over the whole project."""
    return run(paths, settings, jobs=jobs, cache_dir=cache_dir, progress=progress)


def conventions(paths: list[Path], settings: Settings, *, jobs: int | None = None,
                cache_dir: Path | None = None) -> list[ParamConvention]:
    return run(paths, settings, jobs=jobs, cache_dir=cache_dir).conventions


@dataclass
class FixResult:
    analysis: RunResult  # the analysis the fixes were computed from
    files: list[FileFix] = field(default_factory=list)  # the files that changed (or would, without writing)
    errors: list[FileError] = field(default_factory=list)  # files that could not be fixed, and why
    remaining: list[Diagnostic] = field(default_factory=list)  # findings left (re-analysed after writing)

    @property
    def applied(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.applied]


def fix(paths: list[Path], settings: Settings, *, unsafe: bool = False, write: bool = True,
        allow_read_only: bool = False, jobs: int | None = None, cache_dir: Path | None = None,
        progress=None) -> FixResult:
    """Rewrite every fixable guard under ``paths`` (safe fixes; unsafe ones too with ``unsafe``).

    A file edited since it was analysed (or by a concurrent fixer) is analysed again once; if it changes again
    it is reported as an error rather than fixed on stale positions."""
    analysis = run(paths, settings, jobs=jobs, cache_dir=cache_dir, progress=progress)
    result = FixResult(analysis)
    pending = _fixable_by_file(analysis.diagnostics, unsafe)
    for attempt in range(2):
        stale = []
        for display, diagnostics in sorted(pending.items()):
            try:
                outcome = fix_file(settings.root / display, display, diagnostics, unsafe=unsafe, write=write,
                                   allow_read_only=allow_read_only)
            except StaleText:
                stale.append(display)
                continue
            except FixError as exc:
                result.errors.append(FileError(display, 1, 0, f"not fixed: {exc}"))
                continue
            if outcome.fixed != outcome.original:
                result.files.append(outcome)
        if not stale:
            break
        if attempt == 0:  # analyse the changed files again and retry them once
            fresh = run(paths, settings, jobs=jobs, cache_dir=cache_dir)
            pending = {d: diags for d, diags in _fixable_by_file(fresh.diagnostics, unsafe).items() if d in stale}
        else:
            result.errors += [FileError(d, 1, 0, "not fixed: the file changed while it was being fixed; run again")
                              for d in stale]
    if write and result.files:
        result.remaining = run(paths, settings, jobs=jobs, cache_dir=cache_dir).diagnostics
    else:
        applied = {id(d) for d in result.applied}
        result.remaining = [d for d in analysis.diagnostics if id(d) not in applied]
    result.files.sort(key=lambda f: f.path)
    result.errors.sort(key=lambda e: (e.path, e.line))
    return result


def _fixable_by_file(diagnostics: list[Diagnostic], unsafe: bool) -> dict[str, list[Diagnostic]]:
    out: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        if d.fix is not None and (d.fix.safe or unsafe):
            out.setdefault(d.path, []).append(d)
    return out
