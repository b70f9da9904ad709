"""Which convention reaches each index value, and which constant each guard compares it with.

Joins the per-function index flow (origins in terms of a function's own parameters) with the project: helper
calls map a helper's parameters back to the kernel that called it, and a kernel's pointer parameter gets its
convention by precedence: explicit settings > inferred from the code that writes the padding > rule-pack default.
"""
from __future__ import annotations

from dataclasses import replace

from ..config import Settings, load_pack, not_an_index_name
from .conventions import Convention, Evidence, ParamConvention
from .facts import ModuleFacts, looks_like_sentinel
from .flow import FlowGraph, Reach, inferred_convention
from .sites import FunctionAnalysis, Operand
from .platforms import platform_distance
from .project import Project, Resolved

Root = tuple  # (module dotted name, kernel qualname, parameter)
_MINUS_ONE_PACK = None


def launch_alias(graph: FlowGraph | None, settings: Settings, module: ModuleFacts, kernel: str,
                 param: str) -> tuple[str, Evidence] | None:
    """The index tensor name a kernel parameter with a name of its own (``h0_indices``) is launched with
    (``initial_state_indices``): the name its conventions are looked up by.  Launches in test code do not count,
    and launches that pass tensors of different kinds say nothing; nor does a parameter whose own name says stride,
    size or count (``topk_indices.stride(0)``)."""
    if graph is None or settings.is_index_param(param) or not_an_index_name(param):
        return None
    named = [(name, launch) for name, launch in graph.launched_with(module, kernel, param)
             if settings.is_index_param(name) and graph.producer_filter(launch.path)]
    if not named:
        return None
    kinds = {(settings.fallback_group(name), settings.explicit_for(name)) for name, _ in named}
    return named[0] if len(kinds) == 1 else None


class Resolver:
    def __init__(self, project: Project, graph: FlowGraph | None, analyses: dict[tuple[str, str], FunctionAnalysis],
                 settings: Settings):
        self.project = project
        self.graph = graph
        self.analyses = analyses
        self.settings = settings
        self._callers: dict[tuple[str, str], list] = {}
        self._conventions: dict[Root, ParamConvention] = {}
        self._group_pads: dict[int, list] | None = None
        self._untraced: dict[int, list] | None = None
        self._link_helpers()

    def _link_helpers(self) -> None:
        for (module_name, qualname), analysis in self.analyses.items():
            module = self.project.modules[module_name]
            for call in analysis.calls:
                found = self.project.find_function(module, call.callee)
                if found is None:
                    candidates = [(m, f) for m, f in self.project.functions_named(call.callee) if f.is_kernel]
                    found = candidates[0] if len(candidates) == 1 else None
                if found is None or not found[1].is_kernel:
                    continue
                key = (found[0].module, found[1].qualname)
                self._callers.setdefault(key, []).append(((module_name, qualname), call))

    # -- origins → kernel parameters ----------------------------------------------------------------------------
    def roots(self, fn_key: tuple[str, str], origin: tuple, seen=None) -> set[Root]:
        """Kernel pointer parameters that a value with ``origin`` in function ``fn_key`` was loaded through."""
        seen = set() if seen is None else seen
        if (fn_key, origin) in seen:
            return set()
        seen.add((fn_key, origin))
        kind, param = origin[0], origin[1]
        callers = self._callers.get(fn_key)
        if not callers:
            return {(fn_key[0], fn_key[1], param)} if kind == "load" else set()
        analysis = self.analyses[fn_key]
        out: set[Root] = set()
        for caller_key, call in callers:
            arg = self._arg_for(analysis, call, param)
            if arg is None:
                continue
            vals, ptrs = arg
            if kind == "load":
                for p in ptrs:
                    out |= self.roots(caller_key, ("load", p), seen)
            else:
                for o in vals:
                    out |= self.roots(caller_key, o, seen)
        return out

    @staticmethod
    def _arg_for(analysis: FunctionAnalysis, call, param: str):
        if param in call.kwargs:
            return call.kwargs[param]
        if param in analysis.params:
            i = analysis.params.index(param)
            if i < len(call.args):
                return call.args[i]
        return None

    # -- conventions --------------------------------------------------------------------------------------------
    def _inferred_pads(self, module: ModuleFacts, kernel: str, param: str) -> list:
        settings = self.settings
        if not settings.infer or self.graph is None:
            return []
        flow = self.graph.flow_for(module, kernel, param)
        if flow is None:
            return []
        pads = []
        for r in flow.pads:
            distance = platform_distance(r.chain[0].path, module.path)
            # An index tensor by some name on the way, or padding written with a sentinel's name (PAD_SLOT_ID):
            # either says the tensor holds slot ids, not counts or offsets.
            if distance is not None and (looks_like_sentinel(r.name) or any(settings.is_index_param(n) for n in r.names)):
                pads.append(((distance, sum(e.by_name for e in r.chain)), r))
        if not pads:
            return []
        # The most direct evidence wins: padding written by host code for one accelerator yields to generic host
        # code for a kernel they share, then a chain that needs more links made only by a shared field name
        # (objects of unknown class) yields to one that needs fewer.
        best = min(strength for strength, _ in pads)
        return [r for strength, r in pads if strength == best]

    def _project_default(self, param: str, kernel_path: str) -> Convention | str | None:
        """Where no producer reaches a parameter: the padding this project writes for the same kind of tensor
        (the rule-pack group the name falls in) elsewhere, if all of it agrees.  An engine that pads its state
        indices with -1 is not judged by another engine's 0.  The value most of the project's producers write wins (a
        strict majority of their places, or nothing); only padding written by generic host code (or host code for
        the kernel's own accelerator) counts: this is already a guess."""
        group = self.settings.fallback_group(param)
        if group is None:
            return None
        if self._group_pads is None:
            self._group_pads = {}
            for module in list(self.project.modules.values()):
                for fn in module.kernels:
                    for p in fn.params:
                        g = self.settings.fallback_group(p)
                        if g is not None and self.settings.explicit_for(p) is None:
                            self._group_pads.setdefault(g, []).extend(self._inferred_pads(module, fn.qualname, p))
        sites: dict[tuple[str, int], Reach] = {}
        for r in self._group_pads.get(group, ()):
            if platform_distance(r.chain[0].path, kernel_path) == 0:
                sites.setdefault((r.chain[0].path, r.chain[0].line), r)
        traced = ""
        if not sites:
            # Nothing this project pads reaches a kernel parameter of this kind, but its host code may still pad
            # tensors of this kind (by their names) where the chain to a kernel is lost: an engine that fills its
            # state-id buffers with -1 is not judged by another engine's 0 either.
            traced = " (not traced to a kernel)"
            for r in self._untraced_group_pads(group):
                if platform_distance(r.chain[0].path, kernel_path) == 0:
                    sites.setdefault((r.chain[0].path, r.chain[0].line), r)
        by_value: dict[int, list[Reach]] = {}
        for r in sites.values():
            by_value.setdefault(r.value, []).append(r)
        if not by_value:
            return None
        value, pads = max(by_value.items(), key=lambda item: (len(item[1]), -item[0]))
        if 2 * len(pads) <= len(sites):  # the project is split: a pack's guess would only pick a side
            values = "/".join(str(v) for v in sorted(by_value))
            return (f"unknown: no padding producer found; this project pads this kind of tensor with {values} "
                    f"alike{traced}")
        pads.sort(key=lambda r: (not r.name, r.chain[0].path, r.chain[0].line))  # a named sentinel is the best example
        first = pads[0].chain[0]
        share = f" at {len(pads)} of {len(sites)} places" if len(pads) < len(sites) else ""
        return replace(
            inferred_convention(pads[:1], self._zero_reserved(param)), source="project",
            origin=f"no padding producer found; this project pads this kind of tensor with {value}{share} "
                   f"elsewhere{traced}, e.g. {first.path}:{first.line}")

    def _untraced_group_pads(self, group: int) -> list[Reach]:
        if self._untraced is None:
            self._untraced = {}
            for r in self.graph.padding_written() if self.graph is not None else ():
                g = self.settings.fallback_group(r.names[0])
                if g is not None and self.settings.explicit_for(r.names[0]) is None:
                    self._untraced.setdefault(g, []).append(r)
        return self._untraced.get(group, [])

    @staticmethod
    def _zero_reserved(param: str) -> bool:
        """Whether this kind of tensor never holds id 0, as the pad-slot-id pack (the one that describes -1 padding)
        says: block tables reserve block 0 for the null block, state and slot indices do not."""
        global _MINUS_ONE_PACK
        if _MINUS_ONE_PACK is None:
            _MINUS_ONE_PACK = load_pack("pad-slot-id")
        return any(rule.matches(param) and rule.convention.real_min >= 1 for rule in _MINUS_ONE_PACK.tensors)

    def param_convention(self, root: Root) -> ParamConvention:
        cached = self._conventions.get(root)
        if cached is not None:
            return cached
        module_name, kernel, param = root
        module = self.project.modules[module_name]
        settings = self.settings
        pads = self._inferred_pads(module, kernel, param)
        # The name that says what kind of tensor this is: the parameter's own, or the index tensor it is launched
        # with where its own says nothing.
        analysis = self.analyses.get((module_name, kernel))
        loaded = analysis is not None and param in analysis.loads_through
        alias = launch_alias(self.graph, settings, module, kernel, param) if loaded else None
        kind = alias[0] if alias else param
        launched = f"launched with `{alias[0]}` at {alias[1].path}:{alias[1].line}; " if alias else ""
        mixed = []
        if len({r.value for r in pads}) > 1:
            seen = {}
            for r in pads:
                seen.setdefault(r.value, r)
            mixed = sorted(seen.items())
        explicit = settings.explicit_for(kind)
        fallback = settings.fallback_for(kind)
        # A tensor the kernel writes itself (a running block column, a counter) holds what the kernel computed, not
        # host padding: a guess by its name (pack or project default) says nothing about it.
        kernel_owned = analysis is not None and param in analysis.stores_through
        project_default = None if (explicit or pads or kernel_owned) else self._project_default(kind, module.path)
        if explicit is not None:
            result = ParamConvention(module.path, kernel, param, explicit, "config", mixed)
        elif pads:
            conv = inferred_convention(pads, self._zero_reserved(kind))
            result = ParamConvention(module.path, kernel, param, conv, "inferred", mixed)
        elif isinstance(project_default, str):
            result = ParamConvention(module.path, kernel, param, None,
                                     project_default.replace("unknown: ", f"unknown: {launched}", 1), [])
        elif project_default is not None:
            result = ParamConvention(module.path, kernel, param,
                                     replace(project_default, origin=launched + project_default.origin), "project", [])
        elif kernel_owned:
            result = ParamConvention(module.path, kernel, param, None,
                                     "unknown: no padding producer found and the kernel writes this tensor itself", [])
        elif fallback is not None:
            why = "no padding producer found" if settings.infer else "inference off"
            result = ParamConvention(module.path, kernel, param,
                                     replace(fallback, origin=f"{fallback.origin}; {launched}{why}"), "pack", mixed)
        else:
            result = ParamConvention(module.path, kernel, param, None, "unknown: not an index tensor by name or flow", [])
        if alias:
            result.launched_as = alias[0]
        self._conventions[root] = result
        return result

    def convention_for_roots(self, roots: set[Root]) -> Convention | None:
        """The convention guards on values from ``roots`` must follow (the union when several reach them)."""
        params = [self.param_convention(r) for r in sorted(roots)]
        conventions = [p.convention for p in params if p.convention]
        if not conventions:
            return None
        if len(conventions) == 1 or all(c == conventions[0] for c in conventions):
            return conventions[0]
        # One helper reached from tensors of different conventions: it must satisfy all of them.
        invalid = frozenset().union(*(c.invalid for c in conventions))
        real_min = max(c.real_min for c in conventions)
        real_min = max(real_min, max(invalid) + 1)
        names = "/".join(sorted({c.name for c in conventions if c.name}))
        chains = tuple(ch for c in conventions for ch in c.chains)
        return Convention(invalid, real_min, names, conventions[0].source, conventions[0].origin, chains)

    # -- constants on the other side of a comparison ------------------------------------------------------------
    def constant(self, fn_key: tuple[str, str], operand: Operand) -> Resolved | None:
        module = self.project.modules[fn_key[0]]
        if isinstance(operand.const, int):
            return Resolved(operand.const, "", module.path)
        if not isinstance(operand.const, str):
            return None
        param_origins = [o for o in operand.origins if o[0] == "param" and looks_like_sentinel(o[1])]
        if param_origins:  # a parameter (e.g. a constexpr pad_slot_id): its value is bound at the launch
            values: dict[int, Resolved] = {}
            for origin in param_origins:
                for root in self.scalar_roots(fn_key, origin):
                    for resolved in self.launch_values(root):
                        values.setdefault(resolved.value, resolved)
            if len(values) == 1:  # every launch binds the same value
                return next(iter(values.values()))
            return None
        if operand.origins:
            return None
        return self.project.resolve_const(module, operand.const)

    def scalar_roots(self, fn_key, origin, seen=None) -> set[Root]:
        seen = set() if seen is None else seen
        if (fn_key, origin) in seen:
            return set()
        seen.add((fn_key, origin))
        callers = self._callers.get(fn_key)
        kind, param = origin[0], origin[1]
        if kind != "param":
            return set()
        if not callers:
            return {(fn_key[0], fn_key[1], param)}
        out: set[Root] = set()
        analysis = self.analyses[fn_key]
        for caller_key, call in callers:
            arg = self._arg_for(analysis, call, param)
            if arg is not None:
                for o in arg[0]:
                    out |= self.scalar_roots(caller_key, o, seen)
        return out

    def launch_values(self, root: Root) -> set[Resolved]:
        if self.graph is None:
            return set()
        module = self.project.modules[root[0]]
        flow = self.graph.flow_for(module, root[1], root[2])
        if flow is None:
            return set()
        return {Resolved(r.value, r.name, r.chain[0].path, r.chain[0].line) for r in flow.values}

    def evidence_for_value(self, resolved: Resolved) -> Evidence | None:
        if resolved.line:
            return Evidence(resolved.path, resolved.line, f"{resolved.name or resolved.value} bound at the launch")
        return None
