"""From producer to kernel parameter: the host value-flow graph and the padding it carries.

Nodes (ids.Node) are locals and parameters, call results and inline arguments, function returns, and fields:
typed ones (``Class.name``, written and read apart so that a field read through a base class sees what the base
and every subclass write, and one read through a subclass sees its own and its bases' writes, never a sibling's),
and fields of objects of unknown class, linked to every class's field of that name (``by_name``).  Edges come from
the facts (assignments, views, copies, returns) and from binding calls: arguments to parameters (positional,
keyword, ``self``, ``Function.apply``, a constructor's ``__init__`` or a dataclass's fields in order), returns
to results (tuple elements apart), launches to kernel parameters.

Producers (padding written, constants bound) are propagated forward, breadth first; what reaches a kernel
parameter, each with its shortest chain, is that parameter's inferred padding.  A value that is not a literal is
resolved statically (constants, imports, defaults, arithmetic); one that stays a name is a *symbolic* sentinel,
"one past the last id" (``cfg.total_slots``, ``num_experts``), carried by name.
"""
from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass, field, replace

from ..conventions import SYMBOL_BASE, Convention, ConventionSource, Evidence, Reach, is_symbol, real_ids_start
from .facts import Const, ModuleFacts, NameRef, ParamRef, Producer, ProducerKind, SelfAttr
from .ids import Node, NodeKind, field_read, field_write, local, returned, typed_field, typed_field_set
from .platforms import platform_of
from .project import Project, Resolved

LARGE_SENTINEL = 1 << 16  # a literal fill this large is "one past any id" (INT32_MAX, 1 << 30), not a real id


_SAME_FIELD = Evidence("", 0, "")  # a typed field's write side to its read side


def symbol_value(name: str) -> int:
    """The number a symbolic sentinel stands for in a guard's evaluation: above every real id, one per name."""
    return SYMBOL_BASE + (zlib.crc32(name.encode()) % 4096) * 4


@dataclass
class ParamFlow:
    pads: list[Reach] = field(default_factory=list)
    values: list[Reach] = field(default_factory=list)


def _spelled(node: Node) -> str:
    """The name a chain passes through at ``node``, as index-name patterns are matched against it."""
    if node.kind is NodeKind.RETURN:
        return node.scope
    if node.kind in (NodeKind.FIELD, NodeKind.FIELD_SET):
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
        # Fields of objects of unknown class are linked by name only where the name is an index tensor's (or a
        # buffer a table of fill values names): `meta.state_indices` in one module and in another are likely one
        # tensor, `x.ids` or `view.table` are not.
        self.index_name = index_name or (lambda name: True)
        self.edges: dict[Node, list[tuple[Node, Evidence]]] = {}
        # Edges that enter a function at a call site (argument → parameter) or leave it there (return → result):
        # (src, dst) -> the numbers of the call sites that make it.  A value that entered a function at one call
        # leaves it only there.
        self.call_edges: dict[tuple[Node, Node], set[int]] = {}
        self._sites = 0
        self.producers: list[tuple[Node, Producer, ModuleFacts]] = []
        self.kernel_params: dict[Node, tuple[ModuleFacts, str, str, int]] = {}  # node -> (module, kernel, param, line)
        self._typed: set[tuple[str, str]] = set()
        self._linked_names: set[str] = set()
        self._parents: dict[str, set[str]] | None = None  # class -> its bases, by name
        self._children: dict[str, list[str]] = {}
        self._flows: dict[Node, ParamFlow] | None = None
        self._launched_with: dict[Node, list[tuple[str, Evidence]]] | None = None

    def add_edge(self, src: Node, dst: Node, evidence: Evidence, site: int | None = None) -> None:
        if src != dst:
            self.edges.setdefault(src, []).append((dst, evidence))
            if site is not None:
                self.call_edges.setdefault((src, dst), set()).add(site)

    def build(self) -> "FlowGraph":
        modules = list(self.project.modules.values())
        for module in modules:
            for fn in module.kernels:
                for param in fn.params:
                    self.kernel_params[local(module.module, fn.qualname, param)] = (module, fn.qualname, param,
                                                                                    fn.line)
        for module in modules:
            self._typed |= module.typed_fields
            for edge in module.edges:
                self.add_edge(edge.src, edge.dst, Evidence(module.path, edge.line, edge.what, edge.by_name))
            if self.producer_filter(module.path):
                for producer in module.producers:
                    self.producers.append((producer.node, producer, module))
            for call in module.calls:
                self._bind_call(module, call)
        self._linked_names = self._link_vocabulary(modules)
        self._pad_tables(modules)
        self._link_fields()
        return self

    # -- fields ---------------------------------------------------------------------------------------------------
    def _link_vocabulary(self, modules) -> set[str]:
        """The field names linked across objects of unknown class besides index tensors by name: the buffers a table
        of fill values names (``{"state_rows": cfg.state_pad_id}``: that is what those buffers are padded with)."""
        return {entry.key for module in modules for entry in module.tables}

    def links_by_name(self, name: str) -> bool:
        return name in self._linked_names or self.index_name(name.rsplit(".", 1)[-1])

    def _link_fields(self) -> None:
        """Typed fields meet untyped ones by name, and the class hierarchy links typed ones:
        - a write on an object of unknown class reaches every class's field of that name; a read from one sees
          every class's field (both only for names linked by name);
        - a write through class C is read through C, through its bases (the object may be a C) and through its
          subclasses (a subclass's object has C's fields); a sibling's writes never reach C's readers."""
        here = Evidence("", 0, "same field name", True)
        # Sorted: edge order decides which of several equally short chains a parameter reports, and set order
        # changes from one process to the next (string hashing is randomised).
        for owner, name in sorted(self._typed):
            written, read = typed_field_set(owner, name), typed_field(owner, name)
            self.add_edge(written, read, _SAME_FIELD)
            if self.links_by_name(name):
                self.add_edge(written, field_read(name), here)
                self.add_edge(field_write(name), read, here)
            for relative, how in self._relatives(owner):
                if (relative, name) in self._typed:
                    self.add_edge(written, typed_field(relative, name), Evidence("", 0, how))
        names = {name for _, name in self._typed}
        for src, targets in list(self.edges.items()):
            for node in (src, *(dst for dst, _ in targets)):
                if node.kind is NodeKind.FIELD_WRITE:
                    names.add(node.name)
        for name in sorted(names):
            if self.links_by_name(name):
                self.add_edge(field_write(name), field_read(name), here)

    def _relatives(self, cls: str) -> list[tuple[str, str]]:
        """Every ancestor and descendant of ``cls``, with how it is related, in a stable order."""
        if self._parents is None:
            self._parents = {}
            for module in self.project.modules.values():
                for child, bases in module.class_bases.items():
                    self._parents.setdefault(child, set()).update(bases)
            self._children = {}
            for child, bases in sorted(self._parents.items()):
                for base in bases:
                    self._children.setdefault(base, []).append(child)
        out, seen = [], {cls}
        stack = sorted(self._parents.get(cls, ()))
        while stack:
            parent = stack.pop()
            if parent not in seen:
                seen.add(parent)
                out.append((parent, f"{cls} is a {parent}"))
                stack += sorted(self._parents.get(parent, ()))
        stack = list(self._children.get(cls, ()))
        while stack:
            child = stack.pop()
            if child not in seen:
                seen.add(child)
                out.append((child, f"{child} is a {cls}"))
                stack += self._children.get(child, [])
        return out

    def _pad_tables(self, modules) -> None:
        """``pads = {"state_rows": cfg.state_pad_id, ...}`` with ``buf.fill_(pads[name])``: each named buffer is
        padded with its entry (the table reaches a fill within a few steps)."""
        fill_tables = {node for module in modules for node in module.fill_tables}
        if not fill_tables:
            return
        for module in modules:
            if not self.producer_filter(module.path):
                continue
            for entry in module.tables:
                if self._reaches(entry.node, fill_tables, hops=4):
                    target = field_write(entry.key)
                    self.producers.append((target, Producer(target, entry.value, entry.line,
                                                            f"{entry.key}: {_describe_ref(entry.value)} (fill table)",
                                                            ProducerKind.PAD, partial=True), module))

    def _reaches(self, start: Node, targets: set[Node], hops: int) -> bool:
        frontier, seen = [start], {start}
        for _ in range(hops + 1):
            if any(node in targets for node in frontier):
                return True
            frontier = [dst for node in frontier for dst, _ in self.edges.get(node, ()) if dst not in seen]
            seen.update(frontier)
        return False

    # -- calls ----------------------------------------------------------------------------------------------------
    def _bind_call(self, module: ModuleFacts, call) -> None:
        callees = self.project.resolve_callee(module, call.callee, call.class_name, call.scope)
        self._sites += 1
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
            if fn is None:
                self._bind_fields(module, call, callee)
            else:
                self._bind_params(module, call, callee)

    def _bind_fields(self, module: ModuleFacts, call, callee) -> None:
        """A constructor without ``__init__`` (a dataclass, a NamedTuple): its arguments become its fields, the
        positional ones in declaration order."""
        cls = callee.cls or call.callee.rsplit(".", 1)[-1]
        declared = self.project.class_fields(callee.module, cls) if callee.cls else []
        for i, arg in enumerate(call.args):
            if i < len(declared):
                self._field_arg(module, call, arg, cls, declared[i], f"{call.callee}({declared[i]}, ...)")
        for name, arg in call.kwargs:
            self._field_arg(module, call, arg, cls, name, f"{call.callee}({name}=...)")

    def _field_arg(self, module, call, arg, cls: str, name: str, what: str) -> None:
        self._typed.add((cls, name))
        self._bind_arg(module, call, arg, typed_field_set(cls, name), what, False)

    def _bind_params(self, module: ModuleFacts, call, callee) -> None:
        fn = callee.function
        params = [p for p in fn.params if not p.startswith("*")]
        if callee.skip_first:
            params = params[1:]
        star = next((i for i, p in enumerate(fn.params) if p.startswith("*")), None)
        what = "launch" if call.is_launch else "call"
        site = self._sites
        for i, arg in enumerate(call.args):
            if star is not None and i >= star or i >= len(params):
                break
            self._bind_arg(module, call, arg, local(callee.module.module, fn.qualname, params[i]),
                           f"{what} {fn.name}(...) binds {params[i]}", callee.by_name, site)
        for name, arg in call.kwargs:
            if name in fn.params:
                self._bind_arg(module, call, arg, local(callee.module.module, fn.qualname, name),
                               f"{what} {fn.name}({name}=...)", callee.by_name, site)
        if call.result:
            self.add_edge(returned(callee.module.module, fn.qualname), call.result,
                          Evidence(module.path, call.line, f"result of {fn.name}()", callee.by_name), site)
        for i, target in call.unpacked:
            self.add_edge(Node(NodeKind.RETURN, callee.module.module, fn.qualname, str(i)), target,
                          Evidence(module.path, call.line, f"result {i} of {fn.name}()", callee.by_name), site)

    def _bind_arg(self, module, call, arg, dst: Node, what: str, by_name: bool, site: int | None = None) -> None:
        if arg is None:
            return
        if isinstance(arg, Node):
            self.add_edge(arg, dst, Evidence(module.path, call.line, what, by_name), site)
            if _constant_like(arg) and self.producer_filter(module.path):
                # `PAD=PAD_SLOT_ID`: a name spelled as a constant may be one (kept only if it resolves to one)
                name = arg.name if arg.kind is NodeKind.LOCAL else f"{arg.scope}.{arg.name}".strip(".")
                self.producers.append((dst, Producer(dst, NameRef(name), call.line, what, ProducerKind.VALUE), module))
        elif isinstance(arg, Const) and self.producer_filter(module.path):
            self.producers.append((dst, Producer(dst, arg.ref, call.line, what, ProducerKind.VALUE), module))

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
            pad = producer.kind is ProducerKind.PAD
            origin = Evidence(module.path, producer.line, producer.what)
            for node, steps, names in self._walk(start, module, stop=repadded if pad else ()):
                kernel_module, kernel, param, def_line = self.kernel_params[node]
                chain = (origin, *steps, Evidence(kernel_module.path, def_line, f"kernel {kernel} parameter {param}"))
                reach = Reach(resolved.value, resolved.name.lstrip("-"), chain, tuple(names))
                flow = flows.setdefault(node, ParamFlow())
                (flow.pads if pad else flow.values).append(reach)
        self._flows = flows
        return flows

    def _walk(self, start: Node, module: ModuleFacts, stop):
        """(kernel parameter node, chain, names passed through) for each kernel parameter ``start`` reaches.

        Breadth first, with one call of context: a value that enters a function through a call's argument leaves
        it through that call's result only, not every caller's (a shared helper such as ``pad_to(t, n)`` would
        otherwise hand one caller's padding to all the others)."""
        origin_platform = platform_of(module.path)
        first = (start, None)
        parents: dict[tuple, tuple | None] = {first: None}
        queue = deque([first])
        reached = set()
        while queue:
            state = queue.popleft()
            node, context = state
            if node in self.kernel_params and node not in reached:
                reached.add(node)
                yield node, *self._chain(state, parents)
            if node != start and node in stop:
                continue
            for nxt, evidence in self.edges.get(node, ()):
                if origin_platform is not None and evidence.by_name and evidence.path \
                        and platform_of(evidence.path) != origin_platform:
                    # Host code for one accelerator fills its own metadata objects: a field of the same name read
                    # by code for another accelerator, or by generic code, is another object.
                    continue
                sites = self.call_edges.get((node, nxt))
                if sites is None:
                    following = (context,)
                elif node.kind is NodeKind.RETURN:
                    if context is not None and context not in sites:
                        continue  # entered at another call: it returns there
                    following = (None,)
                else:
                    following = sorted(sites)  # entering a function: at each of the calls that bind it so
                for then in following:
                    key = (nxt, then)
                    if key not in parents:
                        parents[key] = (state, evidence)
                        queue.append(key)

    @staticmethod
    def _chain(state, parents) -> tuple[list[Evidence], list[str]]:
        steps, names, cursor = [], [_spelled(state[0])], state
        while parents[cursor] is not None:
            prev, evidence = parents[cursor]
            if evidence is not _SAME_FIELD:  # a field written and read through one class: one step, not two
                steps.append(evidence)
            cursor = prev
            names.append(_spelled(cursor[0]))
        return list(reversed(steps)), names

    def _sentinel_producers(self):
        """(start node, producer, module, value) of the producers that can write "no id"; the producer itself is
        the first link of every chain.  A fill whose value is a parameter writes what its callers pass."""
        values_at: dict[Node, list] = {}
        for node, producer, module in self.producers:
            if producer.kind is ProducerKind.VALUE:
                values_at.setdefault(node, []).append((producer, module))
        for start, producer, module in self.producers:
            if isinstance(producer.value, ParamRef):
                for passed, caller in values_at.get(producer.value.node, ()):
                    resolved = self.resolve(caller, replace(producer, value=passed.value))
                    if resolved is not None:
                        yield start, producer, module, replace(resolved, path=caller.path, line=passed.line)
                continue
            resolved = self.resolve(module, producer)
            if resolved is not None:
                yield start, producer, module, resolved

    def resolve(self, module: ModuleFacts, producer: Producer) -> Resolved | None:
        """The value a producer writes, if it can be "no id": -1, 0 where it pads rows (a whole tensor filled with 0
        is initialised, not padded), a sentinel far above any id, or a symbolic one (a bound kept by name)."""
        resolved = self.project.resolve_const(module, producer.value)
        pad = producer.kind is ProducerKind.PAD
        if resolved is None:
            symbol = _symbol_name(producer.value) if pad else None
            if symbol is None or not (producer.partial or _bound_name(symbol)):
                return None  # a whole tensor filled with some scalar: a symbol only where it names a bound
            return Resolved(symbol_value(symbol), symbol, module.path, producer.line)
        if pad and 0 < resolved.value < LARGE_SENTINEL:
            return None  # a small positive fill is a real id or a count
        if pad and resolved.value == 0 and not producer.partial and not resolved.name:
            return None  # torch.full(..., 0) / t.fill_(0) on a whole tensor initialises; it does not pad rows
        return resolved

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


def _constant_like(node: Node) -> bool:
    """A local or a field spelled like a constant (``PAD_SLOT_ID``, ``utils.NULL_BLOCK_ID``)."""
    return node.kind in (NodeKind.LOCAL, NodeKind.FIELD_READ) and node.name.isupper()


def _symbol_name(ref) -> str | None:
    """The name a symbolic sentinel is carried by: ``cfg.total_slots`` → ``total_slots``."""
    if isinstance(ref, NameRef):
        return ref.last
    if isinstance(ref, SelfAttr):
        return ref.attr
    return None


def _bound_name(name: str) -> bool:
    """A name that says "one past the last id" or "no id": ``num_experts``, ``max_loras``, ``pool.size``, a
    sentinel's name."""
    from ..vocabulary import looks_like_sentinel

    lowered = name.lower()
    return looks_like_sentinel(name) or lowered.startswith(("num_", "max_", "total_")) or lowered.endswith("size")


def _describe_ref(ref) -> str:
    if isinstance(ref, NameRef):
        return ref.dotted
    if isinstance(ref, SelfAttr):
        return f"self.{ref.attr}"
    return str(ref)


def inferred_convention(pads: list[Reach], zero_reserved: bool) -> Convention | None:
    """The convention the padding that reaches a parameter implies: invalid = union of padded values; real ids
    start above a padding 0 (and at 1 for a kind that reserves 0) and stay below a sentinel "past the last id"."""
    if not pads:
        return None
    values = sorted({r.value for r in pads})
    names = sorted({r.name for r in pads if r.name})
    chains = tuple(r.chain for r in pads)
    first = pads[0].chain[0]
    symbols = tuple(sorted({(r.value, r.name) for r in pads if is_symbol(r.value)}))
    return Convention(frozenset(values), real_ids_start(values, zero_reserved), "/".join(names),
                      ConventionSource.INFERRED, f"{first.path}:{first.line}", chains, symbols=symbols,
                      chain_values=tuple(r.value for r in pads),
                      by_name=all(any(e.by_name for e in r.chain) for r in pads))
