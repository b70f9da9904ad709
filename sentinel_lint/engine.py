"""The run: a pipeline of stages, each a function from the previous stages' results to its own (stages/).

    plan (which files) → scan (facts per file, workers, cache) → link (project, flow graph) → kernels (select and
    analyse, workers, cache) → check (resolve conventions, run the rules, apply suppressions) → RunResult

It returns data and never prints (pyflakes keeps its API apart from its reporter; so do we).  Per-file work is
independent of configuration, runs in worker processes and is cached by content; linking and checking are
project-wide and cheap.  docs/architecture.md draws the stages and says which module owns what.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, codec
from .cache import Cache
from .config import Settings
from .conventions import ParamConvention
from .diagnostics import Diagnostic, FileError
from .stages import memo
from .stages.plan import plan_files
from .stages.scan import WorkerState, scan
from .stages.workers import Workers


@dataclass
class Stats:
    files_seen: int = 0
    files_skipped_by_prefilter: int = 0
    files_parsed: int = 0
    files_from_cache: int = 0
    files_with_kernels: int = 0
    kernels: int = 0
    elapsed: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per stage of the run, in order
    _mark: float = field(default_factory=time.perf_counter, repr=False)

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self._mark
        self._mark = now


@dataclass
class RunResult:
    diagnostics: list[Diagnostic]
    errors: list[FileError]
    stats: Stats
    conventions: list[ParamConvention] = field(default_factory=list)


def run(paths: list[Path], settings: Settings, *, jobs: int | None = None, cache_dir: Path | None = None,
        progress=None) -> RunResult:
    """Check ``paths``; conventions are inferred over the whole project at ``settings.root``."""
    stats = Stats()
    with _run_conditions():
        plan = plan_files(paths, settings)
        stats.files_seen = len(plan.reported)
        stats.lap("discovery")
        cache = open_cache(cache_dir)
        key = memo.run_key(settings, plan) if cache.directory is not None else None
        cached = memo.load(cache, key, plan) if key is not None else None
        if cached is not None:
            cached.stats.elapsed = time.perf_counter() - stats._mark + sum(stats.phases.values())
            cached.stats.phases = {"cached run": cached.stats.elapsed}
            cached.stats.files_parsed = 0
            return cached
        from .stages.check import check  # the analysis modules: only once the memo missed
        from .stages.kernels import analyse
        from .stages.link import link

        state = WorkerState(cache, plan.needles)
        with Workers(jobs, state) as workers:
            scanned = scan(plan, workers, progress)
            stats.lap("facts")
            linked = link(plan, scanned, settings, state)
            stats.lap("graph")
            analyses, kernel_errors = analyse(plan, linked, settings, workers)
            stats.lap("index flow")
        checked = check(plan, scanned, linked, analyses, settings)
        stats.lap("checks")
        stats.files_skipped_by_prefilter, stats.files_parsed = scanned.skipped_reported, scanned.parsed
        stats.files_from_cache, stats.files_with_kernels, stats.kernels = (
            scanned.from_cache, checked.files_with_kernels, checked.kernels)
        errors = sorted([*plan.errors, *scanned.errors, *kernel_errors], key=lambda e: (e.path, e.line))
        stats.elapsed = sum(stats.phases.values())
        result = RunResult(checked.diagnostics, errors, stats, checked.conventions)
        if key is not None:
            memo.store(cache, key, result, plan)
        return result


@contextlib.contextmanager
def _run_conditions():
    """A run allocates millions of small objects (syntax trees, facts, flow nodes) that stay alive until it ends
    and form no reference cycles worth collecting; the cyclic collector would rescan them again and again (a
    quarter of a cold run on vLLM).  It is off for the run, in the forked workers too, and back on after.
    Generated code nests deeply (a 40 KB sympy table is 570 ast levels, three Python frames each in the facts
    pass); from 3.11 on, Python-to-Python calls do not use the C stack, so a higher limit is safe there."""
    was_enabled = gc.isenabled()
    gc.disable()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000 if sys.version_info >= (3, 11) else 3000))
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def analyser_fingerprint() -> str:
    """Hash of the code that produces cached facts: a changed analyser never reads an old analyser's results."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        digest = hashlib.blake2b(__version__.encode(), digest_size=8)
        here = Path(__file__).parent
        for source in sorted([*here.rglob("*.py"), *here.rglob("*.toml")]):
            digest.update(source.read_bytes())
        _FINGERPRINT = digest.hexdigest()
    return _FINGERPRINT


_FINGERPRINT: str | None = None


def open_cache(directory: Path | None) -> Cache:
    return Cache(directory, f"{__version__}-{analyser_fingerprint()}")


codec.register(Stats, RunResult)
