"""Stage 2, scan: read each file, prefilter its bytes, and get its module facts from the cache or from ``ast``.

Runs in the worker processes.  The same path (``scan_file``) serves files of the plan and modules loaded on demand
later (a constant's module that the prefilter skipped): read, prefilter unless forced, hash, cache, analyse.
"""
from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field

from .. import codec
from ..cache import Cache
from ..diagnostics import FileError
from ..discovery import might_carry_indices, might_hold_kernel
from ..model.facts import ModuleFacts, collect_facts
from ..source import NotReadable, decode_source, read_source_bytes
from .plan import FileEntry, Plan


@dataclass
class FileResult:
    path: str
    digest: str
    facts: ModuleFacts | None = None
    error: FileError | None = None


@dataclass(frozen=True)
class WorkerState:
    """What every worker needs, handed over once when the pool starts."""

    cache: Cache
    needles: tuple[bytes, ...]


@dataclass
class Scanned:
    display: str
    result: FileResult | None = None  # None: skipped by the prefilter (or unreadable)
    cached: bool = False
    unreadable: bool = False
    error: FileError | None = None  # a reported file that cannot be read or decoded


@dataclass
class ScanResult:
    results: dict[str, FileResult] = field(default_factory=dict)  # display -> facts (or its error)
    skipped: dict[str, FileEntry] = field(default_factory=dict)  # module name -> a file the prefilter skipped
    errors: list[FileError] = field(default_factory=list)
    parsed: int = 0
    from_cache: int = 0
    skipped_reported: int = 0  # checked files the prefilter skipped


def read_error(exc: OSError) -> str:
    return str(exc) if isinstance(exc, NotReadable) else f"cannot read: {exc.strerror or exc}"


def content_digest(data: bytes, display: str) -> str:
    """Keyed by path and content: two files with the same bytes are still two modules."""
    return hashlib.blake2b(data, digest_size=20, key=display.encode("utf-8", "surrogateescape")[-64:]).hexdigest()


def analyse_source(data: bytes, path: str, module: str, digest: str) -> FileResult:
    """Module facts of one file's source (``ast``), or the reason it has none."""
    result = FileResult(path, digest)
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


def _analyse(data: bytes, entry: FileEntry, digest: str) -> FileResult:
    try:
        return analyse_source(data, entry.display, entry.module, digest)
    except RecursionError:
        return FileResult(entry.display, digest, error=FileError(entry.display, 1, 0, "too deeply nested to analyse"))
    except Exception as exc:  # a bug in the analyser must not lose the other files' results
        return FileResult(entry.display, digest,
                          error=FileError(entry.display, 1, 0, f"internal error: {type(exc).__name__}: {exc}"))


def scan_file(state: WorkerState, entry: FileEntry, force: bool = False) -> Scanned:
    """Read one file, prefilter its bytes (unless ``force``d), and return its facts: from the cache if the content
    is known."""
    out = Scanned(entry.display)
    try:
        data = read_source_bytes(entry.path)
    except OSError as exc:
        out.unreadable = True
        if entry.reported:
            out.error = FileError(entry.display, 1, 0, read_error(exc))
        return out
    # Host code matters for the padding it writes and passes on; in tests and benchmarks (not inferred from) only
    # kernels do.
    if not (force or might_hold_kernel(data) or entry.explicit
            or (entry.infer and might_carry_indices(data, state.needles))):
        if entry.reported:
            out.error = decode_source(data, entry.display)[1]
        return out
    digest = content_digest(data, entry.display)
    cached = state.cache.get(digest, FileResult)
    if cached is not None and cached.path == entry.display and cached.digest == digest:
        out.result, out.cached = cached, True
        return out
    out.result = _analyse(data, entry, digest)
    state.cache.put(digest, out.result)
    return out


def _scan_crashed(entry: FileEntry, reason: str) -> Scanned:
    return Scanned(entry.display, error=FileError(entry.display, 1, 0, reason), unreadable=True)


def scan(plan: Plan, workers, progress=None) -> ScanResult:
    out = ScanResult()
    if progress is not None and hasattr(progress, "start"):
        progress.start(len(plan.files))
    for entry, scanned in zip(plan.files, workers.map(scan_file, list(plan.files), _scan_crashed, progress=progress)):
        if scanned.error is not None:
            out.errors.append(scanned.error)
        if scanned.unreadable:
            continue
        if scanned.result is None:
            out.skipped_reported += entry.reported
            out.skipped[entry.module] = entry
            continue
        out.results[entry.display] = scanned.result
        if scanned.result.error is not None and entry.reported:
            out.errors.append(scanned.result.error)
        out.from_cache += scanned.cached
        out.parsed += not scanned.cached
    return out


def on_demand_loader(scanned: ScanResult, state: WorkerState):
    """``dotted name -> ModuleFacts | None`` for modules the prefilter skipped, read through the same path."""

    def load(dotted: str) -> ModuleFacts | None:
        entry = scanned.skipped.get(dotted)
        if entry is None:
            return None
        found = scan_file(state, entry, force=True)
        return found.result.facts if found.result is not None else None

    return load


codec.register(FileResult)
