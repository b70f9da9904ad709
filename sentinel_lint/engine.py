"""The one orchestrator: files → parse → facts → index flow → conventions → checks → suppressions → results.

It returns data and never prints (pyflakes keeps its API apart from its reporter; so do we).  Per-file work (read,
prefilter, ``ast`` facts, libcst index flow of the kernels) is independent of configuration, runs in worker
processes and is cached by content hash; linking and checking are project-wide and cheap.
"""
from __future__ import annotations

import ast
import hashlib
import os
import pickle
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from . import __version__
from .checks import RULES, CheckContext
from .config import Settings
from .diagnostics import Diagnostic, FileError
from .discovery import index_vocabulary, iter_python_files, might_carry_indices, might_hold_kernel
from .model.facts import ModuleFacts, collect_facts
from .model.flow import FlowGraph
from .model.indexflow import FunctionAnalysis, analyze_functions
from .model.project import Project, module_name_for
from .model.resolve import ParamConvention, Resolver
from .source import decode_source, split_lines
from .suppressions import apply_suppressions, parse_suppressions

MAX_FILE_BYTES = 8 * 1024 * 1024  # larger "source" files are generated data, not kernels: reported and skipped


@dataclass
class FileResult:
    path: str
    digest: str
    facts: ModuleFacts | None = None
    analyses: dict[str, FunctionAnalysis] = field(default_factory=dict)
    error: FileError | None = None


@dataclass
class Stats:
    files_seen: int = 0
    files_skipped_by_prefilter: int = 0
    files_parsed: int = 0
    files_from_cache: int = 0
    files_with_kernels: int = 0
    kernels: int = 0
    elapsed: float = 0.0


@dataclass
class RunResult:
    diagnostics: list[Diagnostic]
    errors: list[FileError]
    stats: Stats
    conventions: list[ParamConvention] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # path -> text, for files with diagnostics


# -- per-file work (runs in workers) ------------------------------------------------------------------------------

def analyse_source(data: bytes, path: str, module: str, digest: str) -> FileResult:
    result = FileResult(path, digest)
    if len(data) > MAX_FILE_BYTES:
        result.error = FileError(path, 1, 0, f"file too large to analyse ({len(data)} bytes > {MAX_FILE_BYTES})")
        return result
    text, error = decode_source(data, path)
    if error is not None:
        result.error = error
        return result
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        result.error = FileError(path, exc.lineno or 1, max((exc.offset or 1) - 1, 0), f"syntax error: {exc.msg}")
        return result
    except (ValueError, RecursionError, MemoryError) as exc:
        result.error = FileError(path, 1, 0, f"cannot parse: {exc}")
        return result
    facts = collect_facts(tree, path, module)
    facts.digest = digest
    result.facts = facts
    wanted = [fn for fn in facts.kernels if fn.worth_flow]
    if wanted:
        lines = split_lines(text)
        result.analyses = analyze_functions(lines, wanted)
    return result


def _work(item) -> FileResult:
    path, display, module, digest, data = item
    try:
        return analyse_source(data, display, module, digest)
    except RecursionError:
        return FileResult(display, digest, error=FileError(display, 1, 0, "too deeply nested to analyse"))
    except Exception as exc:  # a bug in the analyser must not lose the other files' results
        return FileResult(display, digest, error=FileError(display, 1, 0, f"internal error: {type(exc).__name__}: {exc}"))


# -- cache --------------------------------------------------------------------------------------------------------

def analyser_fingerprint() -> str:
    """Hash of the code that produces cached facts: a changed analyser never reads an old analyser's results."""
    digest = hashlib.blake2b(__version__.encode(), digest_size=8)
    here = Path(__file__).parent
    for source in sorted([here / "engine.py", here / "source.py", *(here / "model").glob("*.py")]):
        digest.update(source.read_bytes())
    return digest.hexdigest()


class Cache:
    """One pickle per file content digest (facts and index flow do not depend on configuration)."""

    def __init__(self, directory: Path | None):
        self.directory = directory / f"v{__version__}-{analyser_fingerprint()}" if directory else None
        if self.directory is not None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                ignore = directory / ".gitignore"
                if not ignore.exists():
                    ignore.write_text("# created by sentinel-lint\n*\n", encoding="utf-8")
            except OSError:
                self.directory = None

    def _file(self, digest: str) -> Path:
        return self.directory / digest[:2] / f"{digest}.pickle"

    def get(self, digest: str) -> FileResult | None:
        if self.directory is None:
            return None
        try:
            with open(self._file(digest), "rb") as fh:
                return pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
            return None

    def put(self, digest: str, result: FileResult) -> None:
        if self.directory is None:
            return
        target = self._file(digest)
        try:
            target.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except OSError:
            pass


# -- the run ------------------------------------------------------------------------------------------------------

def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def run(paths: list[Path], settings: Settings, *, jobs: int | None = None, cache_dir: Path | None = None,
        progress=None) -> RunResult:
    """Check ``paths``; conventions are inferred over the whole project at ``settings.root``."""
    started = time.perf_counter()
    stats = Stats()
    root = settings.root
    report_files = iter_python_files(paths, root, settings.include, settings.exclude, settings.respect_gitignore)
    explicit = {p.resolve() for p in paths if p.is_file()}
    report_set = {_display(p, root) for p in report_files}
    project_files = list(report_files)
    if settings.infer:
        seen = {p.resolve() for p in report_files}
        for extra in iter_python_files([root], root, settings.include, settings.exclude, settings.respect_gitignore):
            if extra.resolve() not in seen:
                project_files.append(extra)
    needles = index_vocabulary(
        [p for rule in settings.explicit for p in rule.params]
        + [p for rule in (settings.fallback.tensors if settings.fallback else ()) for p in rule.params]
        + list(settings.index_params)
    )

    cache = Cache(cache_dir)
    results: dict[str, FileResult] = {}
    todo = []
    errors: list[FileError] = []
    skipped_paths: dict[str, Path] = {}  # module name -> path, for modules loaded on demand
    for path in project_files:
        display = _display(path, root)
        stats.files_seen += display in report_set
        try:
            data = path.read_bytes()
        except OSError as exc:
            if display in report_set:
                errors.append(FileError(display, 1, 0, f"cannot read: {exc.strerror or exc}"))
            continue
        module = module_name_for(display)
        if not (might_hold_kernel(data) or might_carry_indices(data, needles) or path.resolve() in explicit):
            stats.files_skipped_by_prefilter += display in report_set
            skipped_paths[module] = path
            if display in report_set:
                _, error = decode_source(data, display)
                if error is not None:
                    errors.append(error)
            continue
        digest = hashlib.blake2b(data, digest_size=20).hexdigest()
        cached = cache.get(digest)
        if cached is not None and cached.path == display:
            results[display] = cached
            stats.files_from_cache += 1
            continue
        todo.append((path, display, module, digest, data))

    for result in _parallel(todo, jobs, progress):
        results[result.path] = result
        cache.put(result.digest, result)
    stats.files_parsed = len(todo)

    def load_on_demand(dotted: str) -> ModuleFacts | None:
        path = skipped_paths.get(dotted)
        if path is None:
            return None
        display = _display(path, root)
        data = path.read_bytes()
        digest = hashlib.blake2b(data, digest_size=20).hexdigest()
        res = cache.get(digest)
        if res is None or res.path != display:
            res = _work((path, display, dotted, digest, data))
            cache.put(digest, res)
        return res.facts

    for display, result in results.items():
        if result.error is not None and display in report_set:
            errors.append(result.error)
    modules = [r.facts for r in results.values() if r.facts is not None]
    project = Project(modules, loader=load_on_demand)
    graph = FlowGraph(project, settings.infers_from).build() if settings.infer else None
    analyses = {}
    for result in results.values():
        if result.facts is None:
            continue
        for qualname, analysis in result.analyses.items():
            analyses[(result.facts.module, qualname)] = analysis
    resolver = Resolver(project, graph, analyses, settings)

    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    conventions: list[ParamConvention] = []
    rules = [rule for code, rule in RULES.items() if code in settings.select]
    for display in sorted(report_set):
        result = results.get(display)
        if result is None or result.facts is None:
            continue
        facts = result.facts
        if facts.kernels:
            stats.files_with_kernels += 1
            stats.kernels += len(facts.kernels)
        for fn in facts.kernels:
            for param in fn.params:
                pc = resolver.param_convention((facts.module, fn.qualname, param))
                if pc.convention is not None and (pc.status != "pack" or settings.is_index_param(param)):
                    conventions.append(pc)
        if not facts.kernels:
            continue
        ctx = CheckContext(facts, {q: a for (m, q), a in analyses.items() if m == facts.module}, resolver, settings, [])
        found: list[Diagnostic] = []
        for rule in rules:
            found.extend(rule.check(ctx))
        text = None
        if found or "SL100" in settings.select:
            path = root / display if not Path(display).is_absolute() else Path(display)
            try:
                text, _ = decode_source(path.read_bytes(), display)
            except OSError:
                text = None
        if text is not None:
            found = apply_suppressions(found, parse_suppressions(text), display, "SL100" in settings.select)
            if found:
                sources[display] = text
        diagnostics.extend(found)
    diagnostics.sort(key=Diagnostic.sort_key)
    errors.sort(key=lambda e: (e.path, e.line))
    stats.elapsed = time.perf_counter() - started
    return RunResult(diagnostics, errors, stats, conventions, sources)


def _parallel(todo, jobs: int | None, progress):
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(todo) < 8:
        for item in todo:
            result = _work(item)
            if progress:
                progress(1)
            yield result
        return
    chunk = max(1, min(16, len(todo) // (jobs * 4)))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
        for result in pool.map(_work, todo, chunksize=chunk):
            if progress:
                progress(1)
            yield result
