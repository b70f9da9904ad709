"""The one orchestrator: files → parse → facts → index flow → conventions → checks → suppressions → results.

It returns data and never prints (pyflakes keeps its API apart from its reporter; so do we).  Per-file work (read,
prefilter, ``ast`` facts, libcst index flow of the kernels) is independent of configuration, runs in worker
processes and is cached by content hash; linking and checking are project-wide and cheap.
"""
from __future__ import annotations

import gc
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, codec
from .cache import Cache
from .config import PROJECT_MARKERS, Settings, engine_constants
from .diagnostics import Diagnostic, FileError
from .discovery import (index_vocabulary, walk_python_files, might_carry_indices, might_hold_kernel,
                        nested_project_filter, prefilter_needles)
from .conventions import ConventionSource, ParamConvention
from .model.ids import FunctionId, ParamId
from .source import NotReadable, decode_source, read_source_bytes, split_lines

# The analysis modules (facts, flow graph, resolver, rules) are imported where they are used: a run whose files did
# not change returns its cached result before it needs any of them, and pre-commit starts the tool on every commit.
if TYPE_CHECKING:
    from .model.facts import ModuleFacts
    from .model.sites import FunctionAnalysis

@dataclass
class FileResult:
    path: str
    digest: str
    facts: ModuleFacts | None = None
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


def read_error(exc: OSError) -> str:
    return str(exc) if isinstance(exc, NotReadable) else f"cannot read: {exc.strerror or exc}"


# -- per-file work (runs in workers) ------------------------------------------------------------------------------

def analyse_source(data: bytes, path: str, module: str, digest: str) -> FileResult:
    result = FileResult(path, digest)
    import ast

    from .model.facts import collect_facts

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
    facts.has_suppressions = "sentinel-lint:" in text
    result.facts = facts
    return result


def analyse_kernels(data: bytes, path: str, names: tuple[str, ...], functions) -> dict[str, FunctionAnalysis]:
    """libcst index flow of the named jit functions of one file (those that can hold or feed a finding)."""
    from .model.indexflow import analyze_functions  # libcst: only when a kernel is analysed

    text, _ = decode_source(data, path)
    wanted = [fn for fn in functions if fn.qualname in names]
    if text is None or not wanted:
        return {}
    failures: list = []
    analyses = analyze_functions(split_lines(text), wanted, failures)
    if failures:
        raise KernelNotAnalysed([FileError(path, fn.line, fn.col, f"kernel `{fn.qualname}` not analysed: {why}")
                                 for fn, why in failures], analyses)
    return analyses


class KernelNotAnalysed(Exception):
    """Some jit functions of a file could not be analysed: each is that file's error; the others' flows stand."""

    def __init__(self, errors: list[FileError], analyses: dict):
        super().__init__(errors[0].reason)
        self.errors = errors
        self.analyses = analyses


def _flow_work(item):
    """(display path, cache key, index flows, errors) for one file's needed jit functions."""
    path, display, key, names, functions = item
    try:
        return display, key, analyse_kernels(read_source_bytes(path), display, names, functions), []
    except KernelNotAnalysed as exc:
        return display, key, exc.analyses, exc.errors
    except OSError as exc:
        return display, key, {}, [FileError(display, 1, 0, read_error(exc))]
    except RecursionError:
        return display, key, {}, [FileError(display, 1, 0, "too deeply nested to analyse")]
    except Exception as exc:  # a bug in the analyser must not lose the other files' results
        return display, key, {}, [FileError(display, 1, 0, f"internal error: {type(exc).__name__}: {exc}")]


def _work(item) -> FileResult:
    path, display, module, digest, data = item
    try:
        return analyse_source(data, display, module, digest)
    except RecursionError:
        return FileResult(display, digest, error=FileError(display, 1, 0, "too deeply nested to analyse"))
    except Exception as exc:  # a bug in the analyser must not lose the other files' results
        return FileResult(display, digest, error=FileError(display, 1, 0, f"internal error: {type(exc).__name__}: {exc}"))


@dataclass(frozen=True)
class ScanJob:
    """One project file for a worker to read, prefilter and (unless its cached facts are current) analyse."""

    path: Path
    display: str
    module: str
    host_relevant: bool  # its padding and value flow count for inference (not a test, benchmark or nested project)
    explicit: bool  # named on the command line: analysed whatever the prefilter says
    reported: bool  # inside the paths being checked (an unreadable or undecodable file is reported)


@dataclass
class Scanned:
    display: str
    result: FileResult | None = None  # None: skipped by the prefilter (or unreadable)
    cached: bool = False
    unreadable: bool = False
    error: FileError | None = None  # a reported file that cannot be read or decoded


_WORKER_CACHE: "Cache | None" = None  # each worker process opens the cache directory once
_WORKER_NEEDLES: tuple = ()


def _scan(job: ScanJob) -> Scanned:
    """Read one file, prefilter its bytes, and return its facts: from the cache if the content is known."""
    out = Scanned(job.display)
    try:
        data = read_source_bytes(job.path)
    except OSError as exc:
        out.unreadable = True
        if job.reported:
            out.error = FileError(job.display, 1, 0, read_error(exc))
        return out
    # Host code matters for the padding it writes and passes on; in tests and benchmarks (not inferred from) only
    # kernels do.
    if not (might_hold_kernel(data) or job.explicit or (job.host_relevant and might_carry_indices(data, _WORKER_NEEDLES))):
        if job.reported:
            out.error = decode_source(data, job.display)[1]
        return out
    digest = content_digest(data, job.display)
    cached = _WORKER_CACHE.get(digest, FileResult) if _WORKER_CACHE is not None else None
    if cached is not None and cached.path == job.display and cached.digest == digest:
        out.result, out.cached = cached, True
        return out
    out.result = _work((job.path, job.display, job.module, digest, data))
    if _WORKER_CACHE is not None:
        _WORKER_CACHE.put(digest, out.result)
    return out


# -- cache ------------------------------------------------------------------------------------------------------

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


# -- the run ------------------------------------------------------------------------------------------------------

def run(paths: list[Path], settings: Settings, *, jobs: int | None = None, cache_dir: Path | None = None,
        progress=None) -> RunResult:
    """Check ``paths``; conventions are inferred over the whole project at ``settings.root``."""
    # A run allocates millions of small objects (syntax trees, facts, flow nodes) that stay alive until it ends
    # and form no reference cycles worth collecting; the cyclic collector would rescan them again and again (a
    # quarter of a cold run on vLLM).  It is off for the run, in the forked workers too, and back on after.
    was_enabled = gc.isenabled()
    gc.disable()
    # Generated code nests deeply (a 40 KB sympy table is 570 ast levels, three Python frames each in the facts
    # pass).  From 3.11 on, Python-to-Python calls do not use the C stack, so a higher limit is safe there.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000 if sys.version_info >= (3, 11) else 3000))
    try:
        return _run(paths, settings, jobs=jobs, cache_dir=cache_dir, progress=progress)
    finally:
        if was_enabled:
            gc.enable()


def _run(paths: list[Path], settings: Settings, *, jobs: int | None, cache_dir: Path | None, progress) -> RunResult:
    started = time.perf_counter()
    stats = Stats(_mark=started)
    root = settings.root
    walk = walk_python_files(paths, root, settings.include, settings.exclude, settings.respect_gitignore)
    report_files = walk.files
    walk_errors = list(walk.errors)
    explicit = {os.path.abspath(p) for p in paths if p.is_file()}
    report_set = {display for _, display in report_files}
    project_files = list(report_files)
    if settings.infer:
        if any(os.path.abspath(p) == os.path.abspath(root) for p in paths):
            pass  # the report walk already covered the whole project
        else:
            project_walk = walk_python_files([root], root, settings.include, settings.exclude,
                                             settings.respect_gitignore)
            known = set(walk_errors)
            walk_errors += [e for e in project_walk.errors if e not in known]
            for extra, display in project_walk.files:
                if display not in report_set:
                    project_files.append((extra, display))
    needles = index_vocabulary(
        [p for rule in settings.explicit for p in rule.params]
        + [p for rule in (settings.fallback.tensors if settings.fallback else ()) for p in rule.params]
        + list(settings.index_params)
    )

    cache = open_cache(cache_dir)
    # A run where no file changed (same paths, sizes and modification times, as ruff's cache assumes) and no
    # setting changed returns the stored result without reading a file.
    run_key = _run_key(settings, report_set, explicit, project_files) if cache.directory is not None else None
    memo = _memo_result(cache, run_key, paths_by_display(project_files)) if run_key is not None else None
    if memo is not None:
        memo.stats.elapsed = time.perf_counter() - started
        memo.stats.phases = {"cached run": memo.stats.elapsed}
        memo.stats.files_parsed = 0
        return memo

    from .checks import RULES, CheckContext
    from .model.flow import FlowGraph
    from .model.project import Project, module_name_for
    from .model.resolve import Resolver
    from .suppressions import apply_suppressions, parse_suppressions

    # Padding counts where it is this project's: not in tests or benchmarks, nor in a project of its own below the
    # root (a fixture tree, a vendored package with its own pyproject.toml).
    foreign = nested_project_filter([d for _, d in project_files], root, PROJECT_MARKERS)

    inference_sources: dict[str, bool] = {}  # asked for every producer and call argument: memoised per path

    def infers_from(display: str) -> bool:
        known = inference_sources.get(display)
        if known is None:
            known = inference_sources[display] = settings.infers_from(display) and not foreign(display)
        return known

    results: dict[str, FileResult] = {}
    errors: list[FileError] = walk_errors
    skipped_paths: dict[str, tuple[Path, str]] = {}  # module name -> (path, display), for modules loaded on demand
    jobs_todo = [ScanJob(path, display, module_name_for(display), settings.infer and infers_from(display),
                         str(path) in explicit, display in report_set) for path, display in project_files]
    stats.files_seen = len(report_set)
    stats.lap("discovery")
    global _WORKER_CACHE, _WORKER_NEEDLES
    _WORKER_CACHE, _WORKER_NEEDLES = cache, prefilter_needles(needles)  # inherited by forked workers
    if progress is not None and hasattr(progress, "start"):
        progress.start(len(jobs_todo))
    for job, scanned in zip(jobs_todo, _parallel(jobs_todo, jobs, progress, _scan, _scan_crashed)):
        if scanned.error is not None:
            errors.append(scanned.error)
        if scanned.unreadable:
            continue
        if scanned.result is None:
            stats.files_skipped_by_prefilter += job.reported
            skipped_paths[job.module] = (job.path, job.display)
            continue
        results[job.display] = scanned.result
        stats.files_from_cache += scanned.cached
        stats.files_parsed += not scanned.cached
    stats.lap("facts")
    paths_of = {display: path for path, display in project_files}

    def load_on_demand(dotted: str) -> ModuleFacts | None:
        entry = skipped_paths.get(dotted)
        if entry is None:
            return None
        path, display = entry
        try:
            data = read_source_bytes(path)
        except OSError:
            return None
        digest = content_digest(data, display)
        res = cache.get(digest, FileResult)
        if res is None or res.path != display or res.digest != digest:
            res = _work((path, display, dotted, digest, data))
            cache.put(digest, res)
        return res.facts

    for display, result in results.items():
        if result.error is not None and display in report_set:
            errors.append(result.error)
    modules = [r.facts for r in results.values() if r.facts is not None]
    project = Project(modules, loader=load_on_demand, external_constants=engine_constants())
    graph = FlowGraph(project, infers_from, settings.is_index_param).build() if settings.infer else None
    stats.lap("graph")
    flow_errors: list[FileError] = []
    analyses = _kernel_flows(project, graph, settings, paths_of, cache, jobs, flow_errors)
    errors.extend(e for e in flow_errors if e.path in report_set)
    stats.lap("index flow")
    resolver = Resolver(project, graph, analyses, settings)
    module_analyses: dict[str, dict[str, FunctionAnalysis]] = {}
    for fn_id, analysis in analyses.items():
        module_analyses.setdefault(fn_id.module, {})[fn_id.qualname] = analysis

    diagnostics: list[Diagnostic] = []
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
                pc = resolver.param_convention(ParamId(facts.module, fn.qualname, param))
                if settings.is_index_param(param) or pc.launched_as or (pc.convention is not None
                                                                         and pc.source is not ConventionSource.PACK):
                    conventions.append(pc)  # index parameters always, "unknown" and why included
        if not facts.kernels:
            continue
        path = paths_of[display]
        text_cache: list = []

        def read_text(path=path, display=display, text_cache=text_cache):
            if not text_cache:
                try:
                    text_cache.append(decode_source(read_source_bytes(path), display)[0])
                except OSError:
                    text_cache.append(None)
            return text_cache[0]

        ctx = CheckContext(facts, module_analyses.get(facts.module, {}), resolver, settings, read_text)
        found: list[Diagnostic] = []
        for rule in rules:
            found.extend(rule.check(ctx))
        text = read_text() if (found or (facts.has_suppressions and "SL100" in settings.select)) else None
        if text is not None:
            found = apply_suppressions(found, parse_suppressions(text), display, "SL100" in settings.select,
                                       selected=settings.select)
        diagnostics.extend(found)
    stats.lap("checks")
    diagnostics.sort(key=Diagnostic.sort_key)
    errors.sort(key=lambda e: (e.path, e.line))
    stats.elapsed = time.perf_counter() - started
    result = RunResult(diagnostics, errors, stats, conventions)
    if run_key is not None:
        _store_memo(cache, run_key, result, paths_of)
    return result


def paths_by_display(project_files) -> dict[str, Path]:
    return {display: path for path, display in project_files}


def content_digest(data: bytes, display: str) -> str:
    """Keyed by path and content: two files with the same bytes are still two modules."""
    return hashlib.blake2b(data, digest_size=20, key=display.encode("utf-8", "surrogateescape")[-64:]).hexdigest()


@dataclass
class RunMemo:
    """A whole run's result, and the content of every file it reports a finding in: sizes and modification times
    can stay the same while the text changes (``cp -p``, tar, ``rsync -a``), and a fix must not land on stale
    positions."""

    result: RunResult
    reported: tuple  # ((display, content digest), ...) of the files with findings


def _file_digest(path: Path, display: str) -> str | None:
    try:
        return content_digest(read_source_bytes(path), display)
    except OSError:
        return None


def _memo_result(cache: Cache, run_key: str, paths_of: dict[str, Path]) -> RunResult | None:
    memo = cache.get("run-" + run_key, RunMemo)
    if memo is None:
        return None
    for display, digest in memo.reported:
        path = paths_of.get(display)
        if path is None or _file_digest(path, display) != digest:
            return None
    return memo.result


def _store_memo(cache: Cache, run_key: str, result: RunResult, paths_of: dict[str, Path]) -> None:
    reported = []
    for display in sorted({d.path for d in result.diagnostics}):
        path = paths_of.get(display)
        digest = _file_digest(path, display) if path is not None else None
        if digest is None:
            return
        reported.append((display, digest))
    cache.put("run-" + run_key, RunMemo(result, tuple(reported)))


def _run_key(settings: Settings, report_set, explicit, project_files) -> str:
    key = hashlib.blake2b(repr((settings.fingerprint(), sorted(report_set), sorted(map(str, explicit)))).encode(),
                          digest_size=20)
    for path, display in project_files:
        try:
            st = os.stat(path)
        except OSError:
            key.update(f"{display}:missing".encode())
            continue
        key.update(f"{display}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return key.hexdigest()


def _needed_functions(project: Project, graph, settings: Settings) -> dict[str, set[str]]:
    """module -> jit functions worth a libcst index flow.

    A guard is judged only against a convention, which only parameters can have: an index tensor by name, one
    that padding reaches, or (for the constant side) a sentinel-named parameter bound at the launch.  Kernels with
    such a parameter are analysed, with the jit functions that call them (transitively: a helper's guard is judged
    through the parameters its callers pass) and then every jit function those call (a caller's values go through
    its helpers' return values).  Constants bound to other parameters (block sizes, strides) need no flow, nor do
    the other callers of a shared helper such as an `exp`."""

    from .model.facts import looks_like_sentinel
    from .model.resolve import launch_alias

    def capable(module, fn, param: str) -> bool:
        if settings.is_index_param(param):
            return True
        flow = graph.flow_for(module, fn.qualname, param) if graph is not None else None
        if flow is not None and bool(flow.pads or (flow.values and looks_like_sentinel(param))):
            return True
        return launch_alias(graph, settings, module, fn.qualname, param) is not None

    def resolve(module, callee: str):
        found = project.jit_callee(module, callee)
        return found if found is not None and found[1].worth_flow else None

    callees: dict[tuple[str, str], list] = {}
    callers: dict[tuple[str, str], list] = {}
    seeds = []
    for module in list(project.modules.values()):
        for fn in module.kernels:
            if not fn.worth_flow:
                continue
            for name in fn.called:
                found = resolve(module, name)
                if found is not None:
                    callees.setdefault((module.module, fn.qualname), []).append(found)
                    callers.setdefault((found[0].module, found[1].qualname), []).append((module, fn))
            if any(capable(module, fn, p) for p in fn.params):
                seeds.append((module, fn))

    def closure(start, edges) -> list:
        seen, out, stack = set(), [], list(start)
        while stack:
            module, fn = stack.pop()
            key = (module.module, fn.qualname)
            if key in seen:
                continue
            seen.add(key)
            out.append((module, fn))
            stack.extend(edges.get(key, ()))
        return out

    needed: dict[str, set[str]] = {}
    for module, fn in closure(closure(seeds, callers), callees):
        needed.setdefault(module.module, set()).add(fn.qualname)
    return needed


def _kernel_flows(project, graph, settings, paths_of, cache, jobs, errors: list) -> dict:
    """Index flow of the functions that matter, cached per file content and function set, in workers; a file whose
    kernels could not be analysed is added to ``errors`` (and not cached)."""
    analyses: dict[FunctionId, FunctionAnalysis] = {}
    todo = []
    for module_name, names in sorted(_needed_functions(project, graph, settings).items()):
        facts = project.modules[module_name]
        names = tuple(sorted(names))
        key = "flow-" + hashlib.blake2b(repr((facts.digest, names)).encode(), digest_size=20).hexdigest()
        cached = cache.get(key, dict)
        if cached is not None:
            for qualname, analysis in cached.items():
                analyses[FunctionId(module_name, qualname)] = analysis
            continue
        path = paths_of.get(facts.path)
        if path is not None:
            todo.append((path, facts.path, key, names, [f for f in facts.functions if f.qualname in names]))
    modules_by_path = {m.path: m.module for m in project.modules.values()}
    # Largest first, one file at a time: a few files hold most of the kernel code, and workers that take them last
    # (or in one chunk) leave the other core idle.
    todo.sort(key=lambda item: -sum(f.end_line - f.line + 1 for f in item[4]))
    for display, key, result, failed in _parallel(todo, jobs, None, _flow_work, _flow_crashed, chunk=1):
        if failed:
            errors.extend(failed)  # and not cached: the next run reports them again
        else:
            cache.put(key, result)
        for qualname, analysis in result.items():
            analyses[FunctionId(modules_by_path[display], qualname)] = analysis
    return analyses


def _parallel(todo, jobs: int | None, progress, worker, crashed, chunk: int | None = None):
    """``worker(item)`` for every item, in order, on ``jobs`` processes.  If a worker process dies (a native
    parser that overflows its stack kills the process, not just the call), the items it had not answered are
    each run again in a process of their own; the one that dies again gets ``crashed(item, reason)`` as its
    result, and the run goes on."""
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(todo) < 8:
        for item in todo:
            result = worker(item)
            if progress:
                progress(1)
            yield result
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    chunk = chunk or max(1, min(16, len(todo) // (jobs * 4)))
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
            for result in pool.map(worker, todo, chunksize=chunk):
                done += 1
                if progress:
                    progress(1)
                yield result
    except BrokenProcessPool:
        for item in todo[done:]:
            result = _isolated(worker, crashed, item)
            if progress:
                progress(1)
            yield result


def _isolated(worker, crashed, item):
    """``worker(item)`` in a forked child; ``crashed(item, reason)`` if the child dies."""
    import pickle  # between this process and its own child only: nothing read from disk

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        try:
            with os.fdopen(write_end, "wb") as out:
                out.write(pickle.dumps(worker(item)))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) or not data:
        signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        return crashed(item, f"the analyser crashed on this file (signal {signal}); not analysed")
    return pickle.loads(data)


def _scan_crashed(job: ScanJob, reason: str) -> Scanned:
    return Scanned(job.display, error=FileError(job.display, 1, 0, reason), unreadable=True)


def _flow_crashed(item, reason: str):
    path, display, key, names, functions = item
    return display, key, {}, [FileError(display, 1, 0, reason)]


codec.register(FileResult, Stats, RunResult, RunMemo)
