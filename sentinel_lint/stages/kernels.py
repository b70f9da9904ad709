"""Stage 4, kernels: choose the jit functions a convention can reach, and run their libcst index flow.

A guard is judged only against a convention, which only parameters can have: an index tensor by name, one that
padding reaches, or (for the constant side) a sentinel-named parameter bound at the launch.  Kernels with such a
parameter are analysed, with the jit functions that call them (transitively: a helper's guard is judged through
the parameters its callers pass) and then every jit function those call (a caller's values go through its
helpers' return values).  Constants bound to other parameters (block sizes, strides) need no flow, nor do the other
callers of a shared helper such as an ``exp``.  Results are cached per file content and function set.
"""
from __future__ import annotations

import hashlib

from ..config import Settings
from ..diagnostics import FileError
from ..model.facts import FunctionFacts, ModuleFacts, looks_like_sentinel
from ..model.ids import FunctionId
from ..model.sites import FunctionAnalysis
from ..source import decode_source, read_source_bytes, split_lines
from .link import Linked
from .plan import Plan
from .scan import WorkerState, read_error


def needed_functions(linked: Linked, settings: Settings) -> dict[str, set[str]]:
    """module -> the jit functions worth a libcst index flow."""
    from ..model.resolve import launch_alias

    project, graph = linked.project, linked.graph

    def capable(module, fn, param: str) -> bool:
        if settings.is_index_param(param):
            return True
        flow = graph.flow_for(module, fn.qualname, param) if graph is not None else None
        if flow is not None and bool(flow.pads or (flow.values and looks_like_sentinel(param))):
            return True
        return launch_alias(graph, settings, module, fn.qualname, param) is not None

    callees: dict[FunctionId, list] = {}
    callers: dict[FunctionId, list] = {}
    seeds = []
    for module in list(project.modules.values()):
        for fn in module.kernels:
            if not fn.worth_flow:
                continue
            for name in fn.called:
                found = project.jit_callee(module, name)
                if found is not None and found[1].worth_flow:
                    callees.setdefault(FunctionId(module.module, fn.qualname), []).append(found)
                    callers.setdefault(FunctionId(found[0].module, found[1].qualname), []).append((module, fn))
            if any(capable(module, fn, p) for p in fn.params):
                seeds.append((module, fn))

    def closure(start, edges) -> list:
        seen, out, stack = set(), [], list(start)
        while stack:
            module, fn = stack.pop()
            key = FunctionId(module.module, fn.qualname)
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


class KernelNotAnalysed(Exception):
    """Some jit functions of a file could not be analysed: each is that file's error; the others' flows stand."""

    def __init__(self, errors: list[FileError], analyses: dict):
        super().__init__(errors[0].reason)
        self.errors = errors
        self.analyses = analyses


def analyse_kernels(data: bytes, path: str, functions: list[FunctionFacts]) -> dict[str, FunctionAnalysis]:
    """libcst index flow of the given jit functions of one file."""
    from ..model.indexflow import analyze_functions  # libcst: only when a kernel is analysed

    text, _ = decode_source(data, path)
    if text is None or not functions:
        return {}
    failures: list = []
    analyses = analyze_functions(split_lines(text), functions, failures)
    if failures:
        raise KernelNotAnalysed([FileError(path, fn.line, fn.col, f"kernel `{fn.qualname}` not analysed: {why}")
                                 for fn, why in failures], analyses)
    return analyses


def _flow_work(state: WorkerState, item):
    """(display path, cache key, index flows, errors) for one file's needed jit functions."""
    path, display, key, functions = item
    try:
        return display, key, analyse_kernels(read_source_bytes(path), display, functions), []
    except KernelNotAnalysed as exc:
        return display, key, exc.analyses, exc.errors
    except OSError as exc:
        return display, key, {}, [FileError(display, 1, 0, read_error(exc))]
    except RecursionError:
        return display, key, {}, [FileError(display, 1, 0, "too deeply nested to analyse")]
    except Exception as exc:  # a bug in the analyser must not lose the other files' results
        return display, key, {}, [FileError(display, 1, 0, f"internal error: {type(exc).__name__}: {exc}")]


def _flow_crashed(item, reason: str):
    path, display, key, functions = item
    return display, key, {}, [FileError(display, 1, 0, reason)]


def analyse(plan: Plan, linked: Linked, settings: Settings, workers) -> tuple[dict[FunctionId, FunctionAnalysis],
                                                                              list[FileError]]:
    """Index flow of the functions that matter, cached per file content and function set; the errors of checked
    files whose kernels could not be analysed (those are not cached, so they are reported again)."""
    cache = workers.state.cache
    analyses: dict[FunctionId, FunctionAnalysis] = {}
    errors: list[FileError] = []
    todo = []
    for module_name, names in sorted(needed_functions(linked, settings).items()):
        facts: ModuleFacts = linked.project.modules[module_name]
        names = tuple(sorted(names))
        key = "flow-" + hashlib.blake2b(repr((facts.digest, names)).encode(), digest_size=20).hexdigest()
        cached = cache.get(key, dict)
        if cached is not None:
            analyses.update((FunctionId(module_name, q), a) for q, a in cached.items())
            continue
        entry = plan.entry(facts.path)
        if entry is not None:
            todo.append((entry.path, facts.path, key, [f for f in facts.functions if f.qualname in names]))
    modules_by_path = {m.path: m.module for m in linked.project.modules.values()}
    # Largest first, one file at a time: a few files hold most of the kernel code, and workers that take them last
    # (or in one chunk) leave the other core idle.
    todo.sort(key=lambda item: -sum(f.end_line - f.line + 1 for f in item[3]))
    for display, key, result, failed in workers.map(_flow_work, todo, _flow_crashed, chunk=1):
        if failed:
            entry = plan.entry(display)
            errors.extend(e for e in failed if entry is not None and entry.reported)
        else:
            cache.put(key, result)
        analyses.update((FunctionId(modules_by_path[display], q), a) for q, a in result.items())
    return analyses, errors
