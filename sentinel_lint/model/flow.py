"""From producer to kernel parameter: the host-side value-flow graph and the conventions it carries.

Nodes are locals and parameters (per function), fields (``meta.state_indices``, global by name: static types are
unknown, so a field links every place that spells it — such links are marked ``by_name``) and function returns.
Edges come from assignments, views and casts, copies, call arguments bound to parameters, constructor keywords,
and ``kernel[grid](...)`` launches.  Producers (padding written, or constant values bound) are propagated forward;
what reaches a kernel parameter, with the chain that proves it, is that parameter's inferred convention.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..conventions import Convention, ConventionSource, Evidence, Reach, real_ids_start
from .facts import Const, ModuleFacts, NameRef, Producer, ProducerKind
from .ids import Node, NodeKind, field_read, field_write, local, returned, typed_field
from .platforms import platform_of
from .project import Project


@dataclass
class ParamFlow:
    pads: list[Reach] = field(default_factory=list)
    values: list[Reach] = field(default_factory=list)


def _spelled(node: Node) -> str:
    """The name a chain passes through at ``node``, as index-name patterns are matched against it."""
    if node.kind is NodeKind.RETURN:
        return node.scope
    if node.kind is NodeKind.FIELD:
        return f"{node.scope}.{node.name}"
    return node.name


def _tensor_name(node: Node) -> str:
    """The bare name a node spells: ``state_ids`` for a local, a parameter or a field of that name."""
    if node.kind is NodeKind.RETURN:
        return node.scope.rsplit(".", 1)[-1]
    return node.tensor_name


class FlowGraph:
    def __init__(self, project: Project, producer_filter=None, index_name=None):
        self.project = project
        self.producer_filter = producer_filter or (lambda path: True)
        # Fields are linked by name only where the name says it holds an index tensor: `meta.state_indices` in one
        # module and in another are likely one tensor, `x.ids` or `view.table` are not.
        self.index_name = index_name or (lambda name: True)
        self.edges: dict[Node, list[tuple[Node, Evidence]]] = {}
        self.producers: list[tuple[Node, Producer, ModuleFacts]] = []
        self.kernel_params: dict[Node, tuple[ModuleFacts, str, str, int]] = {}  # node -> (module, kernel, param, line)
        self._constructed: set[tuple[str, str]] = set()
        self._flows: dict[Node, ParamFlow] | None = None
        self._launched_with: dict[Node, list[tuple[str, Evidence]]] | None = None

    def add_edge(self, src: Node, dst: Node, evidence: Evidence) -> None:
        if src != dst:
            self.edges.setdefault(src, []).append((dst, evidence))

    def build(self) -> "FlowGraph":
        project = self.project
        for module in list(project.modules.values()):
            for fn in module.kernels:
                for param in fn.params:
                    self.kernel_params[local(module.module, fn.qualname, param)] = (module, fn.qualname, param,
                                                                                    fn.line)
        for module in list(project.modules.values()):
            for edge in module.edges:
                self.add_edge(edge.src, edge.dst, Evidence(module.path, edge.line, edge.what, edge.by_name))
            if self.producer_filter(module.path):
                for producer in module.producers:
                    self.producers.append((producer.node, producer, module))
            for call in module.calls:
                self._bind_call(module, call)
        self._link_fields()
        return self

    def _link_fields(self) -> None:
        """Typed fields (``f:Cls.name``) meet untyped ones by name: a read whose object's class is unknown sees
        every class's field of that name; a write to an object of unknown class reaches every class's field."""
        typed: set[tuple[str, str]] = set(self._constructed)
        bases: dict[str, set[str]] = {}
        for module in self.project.modules.values():
            typed |= module.typed_fields
            for cls, parents in module.class_bases.items():
                bases.setdefault(cls, set()).update(parents)
        here = Evidence("", 0, "same field name", True)
        # Sorted: edge order decides which of several equally short chains a parameter reports, and set order
        # changes from one process to the next (string hashing is randomised).
        for owner, name in sorted(typed):
            key = typed_field(owner, name)
            if self.index_name(name):
                self.add_edge(key, field_read(name), here)
                self.add_edge(field_write(name), key, here)
            seen, stack = set(), sorted(bases.get(owner, ()))
            while stack:  # an object of a subclass has its bases' fields: one field, seen from both classes
                parent = stack.pop()
                if parent in seen:
                    continue
                seen.add(parent)
                self.add_edge(key, typed_field(parent, name), Evidence("", 0, f"{owner} is a {parent}", True))
                self.add_edge(typed_field(parent, name), key, Evidence("", 0, f"{owner} is a {parent}", True))
                stack.extend(sorted(bases.get(parent, ())))
        names = {name for _, name in typed}
        for module in self.project.modules.values():
            for edge in module.edges:
                for node in (edge.src, edge.dst):
                    if node.kind is NodeKind.FIELD_WRITE:
                        names.add(node.name)
        for name in sorted(names):
            if self.index_name(name):
                self.add_edge(field_write(name), field_read(name), here)

    def _bind_call(self, module: ModuleFacts, call) -> None:
        callees = self.project.resolve_callee(module, call.callee, call.class_name)
        last = call.callee.rsplit(".", 1)[-1]
        if not callees and not call.is_launch and (last.endswith("cls") or last in ("replace", "_replace")):
            # self.metadata_cls(...), dataclasses.replace(obj, ...): fields of an object whose class is unknown
            for name, arg in call.kwargs:
                self._bind_arg(module, call, arg, field_write(name), f"{call.callee}({name}=...)", True)
            return
        for callee in callees:
            fn = callee.function
            if call.is_launch and (fn is None or not fn.is_kernel):
                continue
            if fn is None:  # a constructor: keyword arguments become fields of the object built
                for name, arg in call.kwargs:
                    self._constructed.add((last, name))
                    self._bind_arg(module, call, arg, typed_field(last, name), f"{call.callee}({name}=...)", False)
                continue
            params = [p for p in fn.params if not p.startswith("*")]
            if callee.skip_first:
                params = params[1:]
            star = next((i for i, p in enumerate(fn.params) if p.startswith("*")), None)
            target = lambda p: local(callee.module.module, fn.qualname, p)  # noqa: E731
            what = "launch" if call.is_launch else "call"
            for i, arg in enumerate(call.args):
                if star is not None and i >= star or i >= len(params):
                    break
                self._bind_arg(module, call, arg, target(params[i]), f"{what} {fn.name}(...) binds {params[i]}",
                               callee.by_name)
            for name, arg in call.kwargs:
                if name in fn.params:
                    self._bind_arg(module, call, arg, target(name), f"{what} {fn.name}({name}=...)", callee.by_name)
            if call.result:
                self.add_edge(returned(callee.module.module, fn.qualname), call.result,
                              Evidence(module.path, call.line, f"result of {fn.name}()", callee.by_name))

    def _bind_arg(self, module, call, arg, dst: Node, what: str, by_name: bool) -> None:
        if arg is None:
            return
        if isinstance(arg, Node):
            self.add_edge(arg, dst, Evidence(module.path, call.line, what, by_name))
            name = _spelled(arg)
            if name[:1].isupper() and self.producer_filter(module.path):
                # `PAD=PAD_SLOT_ID`: a bare name may be a module constant (kept only if it resolves to one)
                self.producers.append((dst, Producer(dst, NameRef(name), call.line, what, ProducerKind.VALUE), module))
        elif isinstance(arg, Const) and self.producer_filter(module.path):
            producer = Producer(dst, arg.ref, call.line, what, ProducerKind.VALUE)
            self.producers.append((dst, producer, module))

    # -- propagation ----------------------------------------------------------------------------------------------
    def flows(self) -> dict[Node, ParamFlow]:
        """For every kernel parameter node, the producers that reach it (each with its shortest chain)."""
        if self._flows is not None:
            return self._flows
        flows: dict[Node, ParamFlow] = {}
        # A tensor that writes its own padding follows it: padding from further upstream stops there (vLLM's
        # linear attention turns block-table rows padded with 0 into -1 with torch.where and t[n:] = PAD).
        repadded = {start for start, producer, _ in self.producers if producer.kind is ProducerKind.PAD}
        for start, producer, module, resolved in self._sentinel_producers():
            origin = Evidence(module.path, producer.line, producer.what)
            platform = platform_of(module.path)
            parents: dict[Node, tuple[Node, Evidence] | None] = {start: None}
            queue = deque([start])
            while queue:
                node = queue.popleft()
                if node in self.kernel_params:
                    chain = [origin]
                    steps = []
                    names = [_spelled(node)]
                    cursor = node
                    while parents[cursor] is not None:
                        prev, evidence = parents[cursor]
                        steps.append(evidence)
                        cursor = prev
                        names.append(_spelled(cursor))
                    chain += reversed(steps)
                    kernel_module, kernel, param, def_line = self.kernel_params[node]
                    chain.append(Evidence(kernel_module.path, def_line, f"kernel {kernel} parameter {param}"))
                    name = resolved.name.lstrip("-")
                    reach = Reach(resolved.value, name, tuple(chain), tuple(names))
                    flow = flows.setdefault(node, ParamFlow())
                    (flow.pads if producer.kind is ProducerKind.PAD else flow.values).append(reach)
                if node != start and producer.kind is ProducerKind.PAD and node in repadded:
                    continue
                for nxt, evidence in self.edges.get(node, ()):
                    if platform is not None and evidence.by_name and evidence.path \
                            and platform_of(evidence.path) != platform:
                        # Host code for one accelerator fills its own metadata objects: a field of the same name
                        # read by code for another accelerator, or by generic code, is another object.
                        continue
                    if nxt not in parents:
                        parents[nxt] = (node, evidence)
                        queue.append(nxt)
        self._flows = flows
        return flows

    def _sentinel_producers(self):
        """(start node, producer, module, resolved value) of the producers that can write "no slot"."""
        for start, producer, module in self.producers:
            resolved = self.project.resolve_const(module, producer.value)
            if resolved is None or (producer.kind is ProducerKind.PAD and resolved.value > 0):
                continue  # "no slot" is written as -1 or 0; a positive fill is a real id or a count
            if producer.kind is ProducerKind.PAD and resolved.value == 0 and not producer.partial and not resolved.name:
                continue  # torch.full(..., 0) / t.fill_(0) on a whole tensor initialises; it does not pad rows
            yield start, producer, module, resolved

    def padding_written(self) -> list[Reach]:
        """Every padding write in the host code, traced to a kernel or not, as a one-link Reach named after the
        tensor it pads (``names``: that tensor's name)."""
        out = []
        for start, producer, module, resolved in self._sentinel_producers():
            if producer.kind is ProducerKind.PAD:
                out.append(Reach(resolved.value, resolved.name.lstrip("-"),
                                 (Evidence(module.path, producer.line, producer.what),), (_tensor_name(start),)))
        return out

    def flow_for(self, module: ModuleFacts, kernel: str, param: str) -> ParamFlow | None:
        return self.flows().get(local(module.module, kernel, param))

    def launched_with(self, module: ModuleFacts, kernel: str, param: str) -> list[tuple[str, Evidence]]:
        """(host name, launch) for each variable or field that a launch passes to this kernel parameter as it is:
        ``h0_indices=initial_state_indices`` says what kind of tensor ``h0_indices`` holds."""
        if self._launched_with is None:
            self._launched_with = {}
            for src, targets in self.edges.items():
                for dst, evidence in targets:
                    if dst in self.kernel_params and evidence.what.startswith("launch "):
                        self._launched_with.setdefault(dst, []).append((_tensor_name(src), evidence))
            for found in self._launched_with.values():
                found.sort(key=lambda item: (item[0], item[1].path, item[1].line))
        return self._launched_with.get(local(module.module, kernel, param), [])


def inferred_convention(pads: list[Reach], zero_reserved: bool) -> Convention | None:
    """The convention the padding that reaches a parameter implies: invalid = union of padded values.

    ``zero_reserved``: this kind of tensor never holds id 0 (block tables: block 0 is the null block).  Padding with
    -1 then leaves 0 as a value that never occurs, and both `< 0` and `<= 0` are right; elsewhere 0 is a real id.
    """
    if not pads:
        return None
    values = sorted({r.value for r in pads})
    names = sorted({r.name for r in pads if r.name})
    chains = tuple(r.chain for r in pads)
    first = pads[0].chain[0]
    return Convention(frozenset(values), real_ids_start(values, zero_reserved), "/".join(names),
                      ConventionSource.INFERRED, f"{first.path}:{first.line}", chains)
