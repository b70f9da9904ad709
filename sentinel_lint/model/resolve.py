"""Which convention reaches each index value, and which constant each guard compares it with.

Joins the per-function index flow (origins in terms of a function's own parameters) with the project: helper
calls map a helper's parameters back to the kernels that call it, and a kernel's pointer parameter gets its
convention from the first source in ``Resolver.precedence`` that has one: explicit settings, then padding traced
from the host code, then (guesses) the project's own padding of that kind of tensor, then the rule pack.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import Settings, load_pack, not_an_index_name
from ..conventions import Convention, ConventionSource, Evidence, ParamConvention, Reach, real_ids_start
from .facts import ModuleFacts, looks_like_sentinel
from .flow import FlowGraph, inferred_convention
from .ids import FunctionId, Origin, OriginKind, ParamId, loaded, param_value
from .platforms import platform_distance
from .project import Project, Resolved
from .sites import FunctionAnalysis, Operand

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


@dataclass
class _Query:
    """One kernel parameter being resolved, with what every source may look at."""

    param: ParamId
    module: ModuleFacts
    kind: str  # the name that says what kind of tensor it is: its own, or the one it is launched with
    launched: str  # "launched with `x` at path:line; " where the kind comes from a launch, else ""
    pads: list[Reach]  # traced padding that reaches it (the strongest evidence only)
    mixed: list  # [(value, Reach)] where that padding disagrees
    kernel_owned: bool  # the kernel stores through it: its values are the kernel's, not host padding
    indexes: bool | None  # its loaded values address memory (an index by use); None: cannot tell

    def result(self, convention: Convention | None, source: ConventionSource | None, reason: str = "",
               mixed: list | None = None) -> ParamConvention:
        return ParamConvention(self.module.path, self.param.function, self.param.name, convention, source, reason,
                               self.mixed if mixed is None else mixed)


class Resolver:
    def __init__(self, project: Project, graph: FlowGraph | None, analyses: dict[FunctionId, FunctionAnalysis],
                 settings: Settings):
        self.project = project
        self.graph = graph
        self.analyses = analyses
        self.settings = settings
        self._callers: dict[FunctionId, list] = {}
        self._callees: dict[FunctionId, list] = {}  # function -> [(call, callee)]
        self._uses: dict[tuple[FunctionId, Origin, str], bool | None] = {}
        self._conventions: dict[ParamId, ParamConvention] = {}
        self._group_pads: dict[int, list] | None = None
        self._untraced: dict[int, list] | None = None
        # The sources of a convention, strongest first: the first that answers decides.
        self.precedence = (self._explicit, self._not_an_index, self._traced, self._kernel_owned, self._project_default,
                           self._pack)
        self._link_helpers()

    def _link_helpers(self) -> None:
        for fn_id, analysis in self.analyses.items():
            module = self.project.modules[fn_id.module]
            for call in analysis.calls:
                found = self.project.jit_callee(module, call.callee)
                if found is not None:
                    callee = FunctionId(found[0].module, found[1].qualname)
                    self._callers.setdefault(callee, []).append((fn_id, call))
                    self._callees.setdefault(fn_id, []).append((call, callee))

    # -- origins → kernel parameters ----------------------------------------------------------------------------
    def roots(self, fn_id: FunctionId, origin: Origin, seen=None) -> set[ParamId]:
        """Kernel pointer parameters that a value with ``origin`` in function ``fn_id`` was loaded through."""
        seen = set() if seen is None else seen
        if (fn_id, origin) in seen:
            return set()
        seen.add((fn_id, origin))
        callers = self._callers.get(fn_id)
        if not callers:
            return {ParamId(fn_id.module, fn_id.qualname, origin.param)} if origin.kind is OriginKind.LOAD else set()
        analysis = self.analyses[fn_id]
        out: set[ParamId] = set()
        for caller, call in callers:
            arg = self._arg_for(analysis, call, origin.param)
            if arg is None:
                continue
            vals, ptrs = arg[0], arg[1]
            if origin.kind is OriginKind.LOAD:
                for p in ptrs:
                    out |= self.roots(caller, loaded(p), seen)
            else:
                for o in vals:
                    out |= self.roots(caller, o, seen)
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

    # -- index tensors by use -----------------------------------------------------------------------------------
    def indexes(self, param: ParamId) -> bool | None:
        """Whether values loaded through a kernel parameter take part in the address of another load, store or
        atomic, here or in a helper: an index tensor by what the kernel does with it (a copy of them into another
        tensor is not: data is copied too).  None where that cannot be told (the kernel, or a helper it hands the
        values to, was not analysed)."""
        return self._used(param.function_id, loaded(param.name), set(), "address")

    def hands_on(self, param: ParamId) -> bool | None:
        """Whether values loaded through a kernel parameter are stored into another tensor (ids handed on)."""
        return self._used(param.function_id, loaded(param.name), set(), "stored")

    def _used(self, fn_id: FunctionId, origin: Origin, seen: set, use: str) -> bool | None:
        key = (fn_id, origin, use)
        if key in self._uses:
            return self._uses[key]
        if key in seen:
            return False  # a recursion: what it adds is found on the way in
        seen.add(key)
        analysis = self.analyses.get(fn_id)
        if analysis is None:
            return None
        if any(origin in getattr(a, use) for a in analysis.accesses):
            self._uses[key] = True
            return True
        resolved = {id(call): callee for call, callee in self._callees.get(fn_id, ())}
        unknown = False
        for call in analysis.calls:
            callee = resolved.get(id(call))
            for param, arg in self._bound_args(call, callee):
                vals, ptrs, deps = (*arg, frozenset())[:3]
                if origin in deps or origin in vals:
                    inner = self._used(callee, param_value(param), seen, use) if callee is not None else None
                elif origin.kind is OriginKind.LOAD and origin.param in ptrs:
                    inner = self._used(callee, loaded(param), seen, use) if callee is not None else None
                else:
                    continue
                if inner:
                    self._uses[key] = True
                    return True
                unknown = unknown or inner is None
        self._uses[key] = None if unknown else False
        return self._uses[key]

    def _bound_args(self, call, callee: FunctionId | None):
        """(parameter, argument) of a helper call; an unknown callee's parameters are unknown (named by position)."""
        analysis = self.analyses.get(callee) if callee is not None else None
        params = analysis.params if analysis is not None else [f"#{i}" for i in range(len(call.args))]
        yield from zip(params, call.args)
        yield from call.kwargs.items()

    # -- conventions --------------------------------------------------------------------------------------------
    def param_convention(self, param: ParamId) -> ParamConvention:
        cached = self._conventions.get(param)
        if cached is not None:
            return cached
        query = self._query(param)
        result = None
        for source in self.precedence:
            result = source(query)
            if result is not None:
                break
        if result is None:
            result = query.result(None, None, "not an index tensor by name or flow", [])
        if query.kind != param.name:
            result.launched_as = query.kind
        self._conventions[param] = result
        return result

    def _query(self, param: ParamId) -> _Query:
        module = self.project.modules[param.module]
        analysis = self.analyses.get(param.function_id)
        loads = analysis is not None and param.name in analysis.loads_through
        indexes = self.indexes(param) if loads else None
        pads = self._inferred_pads(module, param.function, param.name, indexes is True)
        alias = launch_alias(self.graph, self.settings, module, param.function, param.name) if loads else None
        mixed = []
        # Padding of several values that reaches a parameter only through fields linked by name says which objects
        # might meet there, not that they do: no mix is reported on that alone.
        if len({r.value for r in pads}) > 1 and not all(any(e.by_name for e in r.chain) for r in pads):
            seen: dict[int, Reach] = {}
            for r in pads:
                seen.setdefault(r.value, r)
            mixed = sorted(seen.items())
        return _Query(param, module, alias[0] if alias else param.name,
                      f"launched with `{alias[0]}` at {alias[1].path}:{alias[1].line}; " if alias else "",
                      pads, mixed, analysis is not None and param.name in analysis.stores_through, indexes)

    def _explicit(self, q: _Query) -> ParamConvention | None:
        explicit = self.settings.explicit_for(q.kind)
        return q.result(explicit, ConventionSource.CONFIG) if explicit is not None else None

    def _not_an_index(self, q: _Query) -> ParamConvention | None:
        # A parameter whose loaded values never address anything is not an index tensor, whatever its name says:
        # a width, a flag, a length, a placeholder passed where an index could go.  One named for an index whose
        # values are stored into another tensor (block ids turned into slots for the next kernel) still is.
        if not_an_index_name(q.param.name):
            return q.result(None, None, "its name says count, length, size, stride or offset: not an index tensor",
                            [])
        if q.indexes is not False:
            return None
        named = self.settings.is_index_param(q.kind)
        if named and self.hands_on(q.param) is not False:
            return None
        return q.result(None, None, "values loaded through it never address memory: not an index tensor", [])

    def _traced(self, q: _Query) -> ParamConvention | None:
        if not q.pads:
            return None
        return q.result(inferred_convention(q.pads, self._zero_reserved(q.kind)), ConventionSource.INFERRED)

    def _kernel_owned(self, q: _Query) -> ParamConvention | None:
        # A tensor the kernel writes itself (a running block column, a counter) holds what the kernel computed, not
        # host padding: a guess by its name (pack or project default) says nothing about it.  (The project default
        # is not even looked at, as it would only be a guess by that name.)
        if not q.kernel_owned:
            return None
        return q.result(None, None, "no padding producer found and the kernel writes this tensor itself", [])

    def _project_default(self, q: _Query) -> ParamConvention | None:
        found = self._project_padding(q.kind, q.module.path)
        if found is None:
            return None
        if isinstance(found, str):  # split: the pack's guess would only pick a side
            return q.result(None, None, q.launched + found, [])
        return q.result(replace(found, origin=q.launched + found.origin), ConventionSource.PROJECT, mixed=[])

    def _pack(self, q: _Query) -> ParamConvention | None:
        fallback = self.settings.fallback_for(q.kind)
        if fallback is None:
            return None
        why = "no padding producer found" if self.settings.infer else "inference off"
        return q.result(replace(fallback, origin=f"{fallback.origin}; {q.launched}{why}"), ConventionSource.PACK)

    def _inferred_pads(self, module: ModuleFacts, kernel: str, param: str, by_use: bool = False) -> list[Reach]:
        settings = self.settings
        if not settings.infer or self.graph is None:
            return []
        flow = self.graph.flow_for(module, kernel, param)
        if flow is None:
            return []
        pads = []
        for r in flow.pads:
            distance = platform_distance(r.chain[0].path, module.path)
            # An index tensor by use, by some name on the way, or padding written with a sentinel's name
            # (PAD_SLOT_ID): each says the tensor holds ids, not counts or offsets.
            if distance is not None and (by_use or looks_like_sentinel(r.name)
                                         or any(settings.is_index_param(n) for n in r.names)):
                pads.append(((distance, sum(e.by_name for e in r.chain)), r))
        if not pads:
            return []
        # The most direct evidence wins: padding written by host code for one accelerator yields to generic host
        # code for a kernel they share, then a chain that needs more links made only by a shared field name
        # (objects of unknown class) yields to one that needs fewer.
        best = min(strength for strength, _ in pads)
        return [r for strength, r in pads if strength == best]

    def _project_padding(self, kind: str, kernel_path: str) -> Convention | str | None:
        """Where no producer reaches a parameter: the padding this project writes for the same kind of tensor
        (the rule-pack group the name falls in) elsewhere.  An engine that pads its state indices with -1 is not
        judged by another engine's 0.  The value most of the project's producers write wins (a strict majority of
        their places, or nothing: a string saying the project is split); only padding written by generic host code
        (or host code for the kernel's own accelerator) counts: this is already a guess."""
        group = self.settings.fallback_group(kind)
        if group is None:
            return None
        sites: dict[tuple[str, int], Reach] = {}
        for r in self._traced_group_pads().get(group, ()):
            if platform_distance(r.chain[0].path, kernel_path) == 0:
                sites.setdefault((r.chain[0].path, r.chain[0].line), r)
        traced = ""
        if not sites:
            # Nothing this project pads reaches a kernel parameter of this kind, but its host code may still pad
            # tensors of this kind (by their names) where the chain to a kernel is lost: an engine that fills its
            # state-id buffers with -1 is not judged by another engine's 0 either.
            traced = " (not traced to a kernel)"
            for r in self._untraced_group_pads().get(group, ()):
                if platform_distance(r.chain[0].path, kernel_path) == 0:
                    sites.setdefault((r.chain[0].path, r.chain[0].line), r)
        by_value: dict[int, list[Reach]] = {}
        for r in sites.values():
            by_value.setdefault(r.value, []).append(r)
        if not by_value:
            return None
        value, pads = max(by_value.items(), key=lambda item: (len(item[1]), -item[0]))
        if 2 * len(pads) <= len(sites):
            values = "/".join(str(v) for v in sorted(by_value))
            return f"no padding producer found; this project pads this kind of tensor with {values} alike{traced}"
        pads.sort(key=lambda r: (not r.name, r.chain[0].path, r.chain[0].line))  # a named sentinel is the best example
        first = pads[0].chain[0]
        share = f" at {len(pads)} of {len(sites)} places" if len(pads) < len(sites) else ""
        return replace(
            inferred_convention(pads[:1], self._zero_reserved(kind)), source=ConventionSource.PROJECT,
            origin=f"no padding producer found; this project pads this kind of tensor with {value}{share} "
                   f"elsewhere{traced}, e.g. {first.path}:{first.line}")

    def _traced_group_pads(self) -> dict[int, list[Reach]]:
        """Traced padding of every kernel index parameter, by the kind of tensor (rule-pack group) it is."""
        if self._group_pads is None:
            self._group_pads = {}
            for module in list(self.project.modules.values()):
                for fn in module.kernels:
                    for p in fn.params:
                        g = self.settings.fallback_group(p)
                        if g is not None and self.settings.explicit_for(p) is None:
                            self._group_pads.setdefault(g, []).extend(self._inferred_pads(module, fn.qualname, p))
        return self._group_pads

    def _untraced_group_pads(self) -> dict[int, list[Reach]]:
        if self._untraced is None:
            self._untraced = {}
            for r in self.graph.padding_written() if self.graph is not None else ():
                g = self.settings.fallback_group(r.names[0])
                if g is not None and self.settings.explicit_for(r.names[0]) is None:
                    self._untraced.setdefault(g, []).append(r)
        return self._untraced

    @staticmethod
    def _zero_reserved(param: str) -> bool:
        """Whether this kind of tensor never holds id 0, as the pad-slot-id pack (the one that describes -1 padding)
        says: block tables reserve block 0 for the null block, state and slot indices do not."""
        global _MINUS_ONE_PACK
        if _MINUS_ONE_PACK is None:
            _MINUS_ONE_PACK = load_pack("pad-slot-id")
        return any(rule.matches(param) and rule.convention.real_min >= 1 for rule in _MINUS_ONE_PACK.tensors)

    def convention_for_roots(self, roots: set[ParamId]) -> Convention | None:
        """The convention guards on values from ``roots`` must follow (the union when several reach them)."""
        params = [self.param_convention(r) for r in sorted(roots)]
        conventions = [p.convention for p in params if p.convention]
        if not conventions:
            return None
        if len(conventions) == 1 or all(c == conventions[0] for c in conventions):
            return conventions[0]
        # One helper reached from tensors of different conventions: it must satisfy all of them.
        invalid = frozenset().union(*(c.invalid for c in conventions))
        real_min = max(max(c.real_min for c in conventions), real_ids_start(invalid))
        names = "/".join(sorted({c.name for c in conventions if c.name}))
        chains = tuple(ch for c in conventions for ch in c.chains)
        return Convention(invalid, real_min, names, conventions[0].source, conventions[0].origin, chains)

    # -- constants on the other side of a comparison ------------------------------------------------------------
    def constant(self, fn_id: FunctionId, operand: Operand, conv: Convention | None = None) -> Resolved | None:
        module = self.project.modules[fn_id.module]
        if isinstance(operand.const, int):
            return Resolved(operand.const, "", module.path)
        if not isinstance(operand.const, str):
            return None
        symbol = self._symbol(fn_id, operand, conv) if conv is not None and conv.symbols else None
        if symbol is not None:
            return symbol
        param_origins = [o for o in operand.origins if o.kind is OriginKind.PARAM and looks_like_sentinel(o.param)]
        if param_origins:  # a parameter (e.g. a constexpr pad_slot_id): its value is bound at the launch
            values: dict[int, Resolved] = {}
            for origin in param_origins:
                for root in self.scalar_roots(fn_id, origin):
                    for resolved in self.launch_values(root):
                        values.setdefault(resolved.value, resolved)
            if len(values) == 1:  # every launch binds the same value
                return next(iter(values.values()))
            return None
        if operand.origins:
            return None
        return self.project.resolve_name(module, operand.const)

    def _symbol(self, fn_id: FunctionId, operand: Operand, conv: Convention) -> Resolved | None:
        """A comparison with the bound a symbolic sentinel names: the kernel parameter is that name, or is launched
        with a host value of that name (``e < num_experts`` where topk ids are padded with ``num_experts``)."""
        symbols = {name: value for value, name in conv.symbols}
        for origin in operand.origins:
            if origin.kind is not OriginKind.PARAM:
                continue
            for root in self.scalar_roots(fn_id, origin) | {ParamId(fn_id.module, fn_id.qualname, origin.param)}:
                names = {root.name}
                if self.graph is not None:
                    module = self.project.modules[root.module]
                    names |= {name for name, _ in self.graph.launched_with(module, root.function, root.name)}
                for name in sorted(names & set(symbols)):
                    return Resolved(symbols[name], name, self.project.modules[root.module].path)
        return None

    def scalar_roots(self, fn_id: FunctionId, origin: Origin, seen=None) -> set[ParamId]:
        seen = set() if seen is None else seen
        if (fn_id, origin) in seen or origin.kind is not OriginKind.PARAM:
            return set()
        seen.add((fn_id, origin))
        callers = self._callers.get(fn_id)
        if not callers:
            return {ParamId(fn_id.module, fn_id.qualname, origin.param)}
        out: set[ParamId] = set()
        analysis = self.analyses[fn_id]
        for caller, call in callers:
            arg = self._arg_for(analysis, call, origin.param)
            if arg is not None:
                for o in arg[0]:
                    out |= self.scalar_roots(caller, o, seen)
        return out

    def launch_values(self, param: ParamId) -> set[Resolved]:
        if self.graph is None:
            return set()
        flow = self.graph.flow_for(self.project.modules[param.module], param.function, param.name)
        if flow is None:
            return set()
        return {Resolved(r.value, r.name, r.chain[0].path, r.chain[0].line) for r in flow.values}
