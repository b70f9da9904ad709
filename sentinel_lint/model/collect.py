"""The facts pass: one ``ast`` walk of a file that records its module facts (facts.py) - pyflakes' order.

Host code is read for the flow of values that can carry padding to a kernel:

* **where values are kept**: locals and parameters, fields (typed by annotation, ``isinstance``, constructor or
  ``self``, else by name), entries of dicts by their string key (``bufs["slot_mapping"]`` is the field
  ``slot_mapping``), function returns (tuple elements apart), call results and inline arguments;
* **how values move**: assignments (tuple unpacking included), views, slices and casts (``t[:, 0]``, ``.to()``),
  ``copy_``, ``torch.where``/``cat``/``stack``, calls and launches binding arguments to parameters,
  ``functools.partial`` and launcher variables (``kern = a if split else b; kern[grid](...)``);
* **padding, in any form the code writes it**: a constant written into a region of a tensor (slice assignment,
  ``fill_``, ``masked_fill(_)``, ``index_fill(_)``), a tensor built full of it (``full``, ``full_like``,
  ``new_full``), one branch of ``torch.where``, ``F.pad`` (value 0 unless given); bound first or returned directly;
  and tables that name each buffer's fill value (``{"state_rows": cfg.state_pad_id}`` used by ``fill_``);
* **what hands out real ids**: ranges that start above 0 (``arange(1, n)``, ``deque(range(1, n))``);
* **kernels**: ``@triton.jit`` and ``@gluon.jit`` in every decorator and import form.

Kernel bodies are device code: the libcst index flow reads them, this pass only notes what it needs to decide
whether a kernel is worth that analysis.
"""
from __future__ import annotations

import ast

from .facts import (CallSite, Const, ConstRef, Edge, FunctionFacts, IdRange, ModuleFacts, NameRef, ParamRef,
                    Producer, ProducerKind, SelfAttr, TableEntry, class_of_annotation, const_ref, dotted,
                    is_padding_index, is_whole_index)
from .ids import Node, NodeKind, argument, field_read, field_write, local, returned, typed_field, typed_field_set

# Tensor methods that return the same storage (or a cast of it): padding written into one is in the other.
ALIAS_METHODS = frozenset(
    {"to", "contiguous", "view", "reshape", "flatten", "narrow", "long", "int", "clone", "squeeze", "unsqueeze",
     "view_as", "expand", "expand_as", "detach", "cuda", "type", "as_strided", "T", "t", "select", "index_select",
     "repeat_interleave", "pin_memory", "cpu", "flip", "roll", "transpose", "permute", "unflatten"}
)
FULL_FUNCS = frozenset({"full", "full_like", "new_full"})
ZERO_FUNCS = frozenset({"zeros_like", "new_zeros"})
IN_PLACE_FILLS = {"fill_": 0, "masked_fill_": 1, "index_fill_": 2, "zero_": None}  # method -> fill value's place
COPY_FILLS = {"masked_fill": 1, "index_fill": 2}  # the same, returning a new tensor
RANGE_FUNCS = frozenset({"range", "arange"})
# Accessors of buffer wrappers (vLLM's CpuGpuBuffer.gpu, .np, ...): on their own they name nothing, so the field
# they belong to is part of the key (``self.slot_mapping.gpu`` → ``slot_mapping.gpu``).
GENERIC_ACCESSORS = frozenset({"gpu", "cpu", "np", "data", "tensor", "buffer", "value", "values", "weight"})
_BUILTIN_CALLS = frozenset({"range", "len", "min", "max", "int", "float", "bool", "abs", "print", "isinstance",
                            "tuple", "list", "static_range", "zip", "enumerate"})
_NOT_DICT_KEYS = frozenset({"META", "kwargs", "args", "environ", "os", "config"})


class FactsCollector(ast.NodeVisitor):
    def __init__(self, facts: ModuleFacts):
        self.facts = facts
        self.scope: list[str] = []  # qualname parts of enclosing functions/classes
        self.class_stack: list[str] = []
        self.function_depth = 0
        self._result_for: dict[int, Node | tuple] = {}  # id(call) -> where its result goes
        self.types: list[dict[str, dict[str, int]]] = []
        self.param_defaults: list[dict[str, ConstRef | None]] = []  # per enclosing function: parameter -> default
        self._partials: dict[tuple[str, str], tuple] = {}  # (scope, name) -> (callee, args, kwargs)
        self._launchers: dict[tuple[str, str], list[str]] = {}  # (scope, name) -> callees it may stand for
        self._bound: set[int] = set()  # padding expressions already given a node of their own

    def run(self, tree: ast.Module) -> ModuleFacts:
        self.visit(tree)
        self._jit_by_call(tree)
        return self.facts

    # -- traversal ----------------------------------------------------------------------------------------------
    # ast.NodeVisitor looks up a method by name for every node and walks every field, contexts and operators
    # included; the facts pass visits every host statement of hundreds of files, so both are table lookups here.
    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        method = _HANDLERS.get(kind, _UNSET)
        if method is _UNSET:
            method = _HANDLERS[kind] = getattr(FactsCollector, "visit_" + kind.__name__, None)
        if method is not None:
            method(self, node)
        else:
            self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for child in _child_nodes(node):
            self.visit(child)

    @property
    def qual(self) -> str:
        return ".".join(self.scope)

    def local(self, name: str, scope: str | None = None) -> Node:
        return local(self.facts.module, self.qual if scope is None else scope, name)

    def edge(self, src: Node, dst: Node, line: int, what: str, by_name: bool = False) -> None:
        if src != dst:
            self.facts.edges.append(Edge(src, dst, line, what, by_name))

    def produce(self, node: Node, value: ConstRef, line: int, what: str, kind=ProducerKind.PAD,
                partial: bool = False) -> None:
        self.facts.producers.append(Producer(node, value, line, what[:120], kind, partial))

    # -- definitions ----------------------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self.function_depth == 0:
            self.facts.classes.setdefault(node.name, [])
            self.facts.class_bases[node.name] = [b.rsplit(".", 1)[-1] for b in map(dotted, node.bases) if b]
            self._class_fields(node)
        self.scope.append(node.name)
        self.class_stack.append(node.name)
        self.generic_visit(node)
        self.class_stack.pop()
        self.scope.pop()

    def _class_fields(self, node: ast.ClassDef) -> None:
        """Declared fields, in order (a dataclass's or NamedTuple's positional constructor), and their constant
        defaults (``state_pad_id: int = 0``: what ``cfg.state_pad_id`` holds unless set)."""
        fields = self.facts.class_fields.setdefault(node.name, [])
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                if "ClassVar" not in ast.unparse(stmt.annotation):
                    fields.append(stmt.target.id)
                ref = const_ref(stmt.value) if stmt.value is not None else None
                if ref is not None and not isinstance(ref, NameRef) or _constant_name(ref):
                    self.facts.field_constants[(node.name, stmt.target.id)] = ref
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                ref = const_ref(stmt.value)
                if ref is not None and not isinstance(ref, NameRef) or _constant_name(ref):
                    self.facts.field_constants[(node.name, stmt.targets[0].id)] = ref

    def visit_FunctionDef(self, node) -> None:
        self.scope.append(node.name)
        qual = self.qual
        args = node.args
        params = [a.arg for a in args.posonlyargs + args.args]
        if args.vararg:
            params.append("*" + args.vararg.arg)
        params += [a.arg for a in args.kwonlyargs]
        class_name = self.class_stack[-1] if self.class_stack and self.scope[-2:-1] == self.class_stack[-1:] else None
        info = FunctionFacts(name=node.name, qualname=qual, line=node.lineno, end_line=node.end_lineno or node.lineno,
                             col=node.col_offset, params=params, class_name=class_name,
                             is_kernel=any(self._is_jit_decorator(d) for d in node.decorator_list))
        if info.is_kernel:
            _describe_kernel(info, node)
        self.facts.functions.append(info)
        if class_name is not None:
            self.facts.classes.setdefault(class_name, []).append(node.name)
        defaults = self._defaults(qual, args)
        if not info.is_kernel:  # kernel bodies are device code: the kernel analysis reads them, not this pass
            self.function_depth += 1
            self.types.append(self.initial_types(node, class_name))
            self.param_defaults.append(defaults)
            for stmt in node.body:
                self.visit(stmt)
            self.param_defaults.pop()
            self.types.pop()
            self.function_depth -= 1
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _defaults(self, qual: str, args: ast.arguments) -> dict[str, ConstRef]:
        """Parameter defaults bind a value to the parameter (``pad_slot_id: int = PAD_SLOT_ID``)."""
        positional = args.posonlyargs + args.args
        defaults = {}
        for arg, default in [*zip(positional[len(positional) - len(args.defaults):], args.defaults),
                             *zip(args.kwonlyargs, args.kw_defaults)]:
            ref = const_ref(default) if default is not None else None
            if ref is None or (isinstance(ref, NameRef) and ref.dotted in ("None", "True", "False")):
                continue
            self.produce(self.local(arg.arg, qual), ref, default.lineno, f"default {arg.arg}={ast.unparse(default)}",
                         ProducerKind.VALUE)
            defaults[arg.arg] = ref
        for arg in [*positional, *args.kwonlyargs]:  # no default: what the callers pass (None)
            defaults.setdefault(arg.arg, None)
        return defaults

    # -- imports and kernels ----------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            local_name = alias.asname or alias.name.split(".")[0]
            target = alias.name if alias.asname else alias.name.split(".")[0]
            self.facts.imports[local_name] = (target, None)
            # `import triton`, `import triton.experimental.gluon as gluon`
            if alias.name == "triton" or alias.name.endswith((".triton", ".gluon")):
                self.facts.triton_aliases.add(local_name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            local_name = alias.asname or alias.name
            self.facts.imports[local_name] = (module, alias.name)
            # `from vllm.triton_utils import triton`, `from triton.experimental import gluon`: the module re-exported
            if alias.name in ("triton", "gluon"):
                self.facts.triton_aliases.add(local_name)
            if alias.name == "jit" and "triton" in module:
                self.facts.jit_aliases.add(local_name)

    def _is_jit_decorator(self, dec: ast.AST) -> bool:
        name = dotted(dec.func if isinstance(dec, ast.Call) else dec)
        if name is None:
            return False
        if name in self.facts.jit_aliases:
            return True
        head, _, tail = name.partition(".")
        return bool(tail) and head in self.facts.triton_aliases and name.endswith("jit")

    def _jit_by_call(self, tree: ast.Module) -> None:
        """``kernel = triton.jit(fn)``: a function turned into a kernel by a call rather than a decorator."""
        by_name = {f.qualname: f for f in self.facts.functions}
        for stmt in tree.body:
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and stmt.value.args
                    and isinstance(stmt.value.args[0], ast.Name)):
                continue
            fname = dotted(stmt.value.func) or ""
            if fname in self.facts.jit_aliases or (fname.split(".")[0] in self.facts.triton_aliases
                                                   and fname.endswith("jit")):
                fn = by_name.get(stmt.value.args[0].id)
                if fn is not None:
                    fn.is_kernel = True

    # -- what a local's class is, learnt in order as the body is visited --------------------------------------
    def initial_types(self, node, class_name: str | None) -> dict[str, dict[str, int]]:
        env: dict[str, dict[str, int]] = {}
        args = node.args
        for arg in args.posonlyargs + args.args + args.kwonlyargs:
            cls = class_of_annotation(arg.annotation)
            if cls:
                env[arg.arg] = {cls: 0}
        positional = args.posonlyargs + args.args
        if class_name and positional and positional[0].arg == "self":
            env["self"] = {class_name: 3}
        return env

    def learn_type(self, var: str, cls: str | None, rank: int) -> None:
        """Rank: annotation 0 < constructor or cast() 1 < isinstance() 2: a narrower statement wins."""
        if cls and self.types:
            ranked = self.types[-1].setdefault(var, {})
            ranked[cls] = max(rank, ranked.get(cls, 0))

    def type_of(self, var: str) -> str | None:
        ranked = self.types[-1].get(var) if self.types else None
        if not ranked:
            return None
        best = max(ranked.values())
        top = [cls for cls, rank in ranked.items() if rank == best]
        return top[0] if len(top) == 1 else None

    # -- where a value is kept ----------------------------------------------------------------------------------
    def node_of(self, expr: ast.AST, write: bool = False) -> Node | None:
        """The flow node a tensor expression denotes: a local, a field, a dict entry, or what a view, slice or cast
        of it denotes."""
        if isinstance(expr, ast.Name):
            return self.local(expr.id)
        if isinstance(expr, ast.Attribute):
            return self.attribute_node(expr, write)
        if isinstance(expr, ast.Subscript):
            key = expr.slice.value if isinstance(expr.slice, ast.Constant) else None
            if isinstance(key, str) and key.isidentifier() and not _is_config_dict(expr.value):
                return field_write(key) if write else field_read(key)  # bufs["slot_mapping"]: a field by its key
            if isinstance(expr.value, ast.Name) and expr.value.id in _NOT_DICT_KEYS:
                return None
            return self.node_of(expr.value, write)
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in ALIAS_METHODS:
            return self.node_of(expr.func.value, write)
        return None

    def attribute_node(self, expr: ast.Attribute, write: bool) -> Node:
        name, base = expr.attr, expr.value
        if name in GENERIC_ACCESSORS and isinstance(base, ast.Attribute):
            name, base = f"{base.attr}.{name}", base.value
        owner = self.type_of(base.id) if isinstance(base, ast.Name) else None
        if owner:
            self.facts.typed_fields.add((owner, name))
            return typed_field_set(owner, name) if write else typed_field(owner, name)
        return field_write(name) if write else field_read(name)

    def _const(self, expr: ast.AST) -> ConstRef | None:
        """A constant, with ``self.X`` tied to the enclosing class and a parameter read through its default
        (``torch.full(n, pad_value)`` in ``def build(..., pad_value=INVALID_SLOT)``)."""
        ref = const_ref(expr)
        if not isinstance(ref, NameRef):
            return ref
        if ref.dotted.startswith("self.") and ref.dotted.count(".") == 1 and self.class_stack:
            return SelfAttr(self.class_stack[-1], ref.dotted[5:])
        if self.param_defaults and ref.dotted in self.param_defaults[-1]:
            default = self.param_defaults[-1][ref.dotted]
            return default if default is not None else ParamRef(self.local(ref.dotted))
        return ref

    # -- padding ------------------------------------------------------------------------------------------------
    def fill_of(self, expr: ast.AST) -> tuple[ConstRef, bool] | None:
        """(value, written into some rows only) when ``expr`` builds a tensor holding a constant as padding."""
        if not isinstance(expr, ast.Call):
            return None
        last = (dotted(expr.func) or "").rsplit(".", 1)[-1]
        if last in FULL_FUNCS:
            value = next((kw.value for kw in expr.keywords if kw.arg == "fill_value"), None)
            value = value if value is not None else (expr.args[1] if len(expr.args) >= 2 else None)
            ref = self._const(value) if value is not None else None
            return (ref, False) if ref is not None and _fill_value(ref) else None
        if last == "pad" and expr.args:  # F.pad(t, pad, mode, value): 0 unless given
            value = next((kw.value for kw in expr.keywords if kw.arg == "value"), None)
            value = value if value is not None else (expr.args[3] if len(expr.args) >= 4 else None)
            ref = self._const(value) if value is not None else 0
            return (ref, True) if ref is not None and _fill_value(ref) else None
        if last in COPY_FILLS and len(expr.args) > COPY_FILLS[last]:
            ref = self._const(expr.args[COPY_FILLS[last]])
            return (ref, True) if ref is not None and _fill_value(ref) else None
        if last == "where" and len(expr.args) == 3:
            for branch in expr.args[1:]:
                ref = self._where_branch(branch)
                if ref is not None:
                    return ref, True  # only the rows the condition picks: padding, not initialisation
        return None

    def _where_branch(self, branch: ast.AST) -> ConstRef | None:
        full = self.fill_of(branch) if isinstance(branch, ast.Call) else None
        if full is not None:
            return full[0]
        if isinstance(branch, ast.Call) and (dotted(branch.func) or "").rsplit(".", 1)[-1] in ZERO_FUNCS:
            return 0  # torch.where(valid, idx, torch.zeros_like(idx))
        ref = self._const(branch)
        if isinstance(ref, (NameRef, ParamRef, SelfAttr)) and not _fill_value(ref):
            return None  # another tensor, not a constant
        return ref

    def sources(self, expr: ast.AST, line: int) -> list:
        """What a value comes from: flow nodes and constants.  A padding expression (``torch.full(..., -1)``) or a
        call's result gets a node of its own, at its position."""
        if isinstance(expr, (ast.IfExp,)):
            return self.sources(expr.body, line) + self.sources(expr.orelse, line)
        if isinstance(expr, ast.BoolOp):
            return [s for v in expr.values for s in self.sources(v, line)]
        if isinstance(expr, (ast.ListComp, ast.GeneratorExp, ast.SetComp)) and expr.generators:
            # [t[:n] for t in buffers]: views of the iterated tensors
            return self.sources(expr.generators[0].iter, line)
        if isinstance(expr, (ast.List, ast.Tuple)):
            return [s for e in expr.elts for s in self.sources(e, line) if isinstance(s, Node)]
        if isinstance(expr, ast.Call):
            return self._call_sources(expr, line)
        if isinstance(expr, ast.Subscript) and not (isinstance(expr.slice, ast.Constant)
                                                    and isinstance(expr.slice.value, str)):
            return self.sources(expr.value, line)  # a view: t[:, 0], f(x)[:n]
        ref = const_ref(expr)
        if isinstance(ref, int) or (ref is not None and isinstance(expr, (ast.UnaryOp, ast.BinOp))):
            return [Const(ref)]
        node = self.node_of(expr)
        if node is None:
            return []
        if isinstance(ref, NameRef) and _constant_name(ref):
            return [node, Const(ref)]  # `x = PAD_SLOT_ID`: a module constant, or a local of that name
        return [node]

    def _call_sources(self, call: ast.Call, line: int) -> list:
        func = call.func
        last = (dotted(func) or "").rsplit(".", 1)[-1]
        if isinstance(func, ast.Attribute) and func.attr in ALIAS_METHODS:
            inner = self.node_of(call)
            if inner is not None:
                return [inner]
        if isinstance(func, ast.Name) and func.id in ("tuple", "list") and len(call.args) == 1:
            return self.sources(call.args[0], line)  # tuple(bt[:n] for bt in tables)
        if self.fill_of(call) is not None or last in ("where", "cat", "stack", "pad", *COPY_FILLS):
            node = argument(self.facts.module, self.qual, call.lineno, call.col_offset)
            if id(call) not in self._bound:  # asked again for the same expression: bound once
                self._bound.add(id(call))
                self.bind_value(node, call, line)
            return [node]
        if isinstance(func, (ast.Name, ast.Attribute)) and _may_be_project_call(func):
            node = self._result_for.get(id(call))
            if node is None:
                node = argument(self.facts.module, self.qual, call.lineno, call.col_offset)
                self._result_for[id(call)] = node
            return [node] if isinstance(node, Node) else []  # (a tuple: unpacked into several targets)
        return []

    def bind_value(self, target: Node, value: ast.AST, line: int) -> None:
        """What assigning ``value`` to ``target`` means: padding written, constants bound, flow edges."""
        fill = self.fill_of(value)
        if fill is not None:
            self.produce(target, fill[0], line, ast.unparse(value), partial=fill[1])
        if isinstance(value, ast.Call):
            last = (dotted(value.func) or "").rsplit(".", 1)[-1]
            if last == "where" and len(value.args) == 3:
                for branch in value.args[1:]:
                    if self._where_branch(branch) is None:
                        self._flow_into(target, branch, line, "torch.where")
                return
            if last in ("cat", "stack") and value.args and isinstance(value.args[0], (ast.List, ast.Tuple)):
                for element in value.args[0].elts:
                    self._flow_into(target, element, line, last)
                return
            if last == "pad" or last in COPY_FILLS:
                if value.args:
                    self._flow_into(target, value.args[0], line, last)
                return
            if fill is not None:
                return
        for source in self.sources(value, line):
            if isinstance(source, Const):
                self.produce(target, source.ref, line, ast.unparse(value), ProducerKind.VALUE)
            else:
                what = "alias" if isinstance(value, ast.Name) else ast.unparse(value)[:60]
                # a field of an object of unknown class is this one only by its name
                self.edge(source, target, line, what, by_name=source.kind is NodeKind.FIELD_READ)

    def _flow_into(self, target: Node, expr: ast.AST, line: int, what: str) -> None:
        for source in self.sources(expr, line):
            if isinstance(source, Node):
                self.edge(source, target, line, what)

    # -- statements ---------------------------------------------------------------------------------------------
    def visit_For(self, node: ast.For) -> None:
        """``for t in buffers:``: t is each of the tensors; padding written into it is in the container's."""
        if isinstance(node.target, ast.Name) and self.function_depth > 0:
            element = self.local(node.target.id)
            for source in self.sources(node.iter, node.lineno):
                if isinstance(source, Node):
                    self.edge(source, element, node.lineno, "element of " + ast.unparse(node.iter)[:50])
                    self.edge(element, source, node.lineno, "written through " + node.target.id)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self._learn_from_value(node.targets[0].id, node.value)
        for target in node.targets:
            self._assign(target, node.value, node.lineno)

    def _learn_from_value(self, var: str, value: ast.AST) -> None:
        """``m = Meta(...)``, ``m = cast(Meta, x)``; ``m = other`` and ``m = copy(other)`` (also ``replace``,
        ``deepcopy``) keep ``other``'s class."""
        if isinstance(value, ast.Name):
            self.learn_type(var, self.type_of(value.id), 1)
            return
        if not isinstance(value, ast.Call):
            return
        last = (dotted(value.func) or "").rsplit(".", 1)[-1]
        if last[:1].isupper():
            self.learn_type(var, last, 1)
        elif last == "cast" and value.args:
            self.learn_type(var, class_of_annotation(value.args[0]), 1)
        elif last in ("copy", "deepcopy", "replace", "_replace") and value.args and isinstance(value.args[0], ast.Name):
            self.learn_type(var, self.type_of(value.args[0].id), 1)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.learn_type(node.target.id, class_of_annotation(node.annotation), 0)
        if node.value is not None:
            self._assign(node.target, node.value, node.lineno)

    def _assign(self, target: ast.AST, value: ast.AST, line: int) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            self._unpack(target, value, line)
            return
        if isinstance(target, ast.Subscript) and not self._string_key(target):
            self._assign_rows(target, value, line)
            return
        if isinstance(target, ast.Name):
            self._remember_name(target.id, value, line)
        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
                and self.class_stack):
            ref = const_ref(value)
            if ref is not None and not isinstance(value, ast.Attribute):
                self.facts.field_constants[(self.class_stack[-1], target.attr)] = ref  # self.pad_slot_id = PAD
        node = self.node_of(target, write=True)
        if node is None:
            self.visit(value)
            return
        self._assigned(node, value, line)

    def _assigned(self, node: Node, value: ast.AST, line: int) -> None:
        if isinstance(value, ast.Call) and not isinstance(value.func, ast.Subscript):
            self._result_for[id(value)] = node
        self._id_range(node, value, line)
        if isinstance(value, ast.Dict):
            self._dict_literal(node, value, line)
        self.bind_value(node, value, line)
        self.visit(value)  # calls inside a right-hand side still bind arguments

    def _string_key(self, target: ast.Subscript) -> bool:
        return isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str)

    def _unpack(self, target, value: ast.AST, line: int) -> None:
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
            for t, v in zip(target.elts, value.elts):
                self._assign(t, v, line)
            return
        if isinstance(value, ast.Call) and not isinstance(value.func, ast.Subscript):
            # `a, b = f(x)`: each target gets that element of what f returns
            nodes = tuple((i, self.node_of(t, write=True)) for i, t in enumerate(target.elts)
                          if not isinstance(t, ast.Starred))
            self._result_for[id(value)] = tuple((i, n) for i, n in nodes if n is not None)
            if (dotted(value.func) or "").rsplit(".", 1)[-1] in ("split", "chunk", "unbind", "tensor_split"):
                for _, node in nodes:  # views of one tensor: each part holds its padding
                    if node is not None:
                        self._flow_into(node, value.func.value if isinstance(value.func, ast.Attribute)
                                        else value.args[0], line, "split")
        self.visit(value)

    def _assign_rows(self, target: ast.Subscript, value: ast.AST, line: int) -> None:
        """``t[n:] = X`` writes padding; ``t[:n] = src`` copies src's values into t."""
        node = self.node_of(target.value, write=True)
        ref = self._const(value)
        rows = is_padding_index(target.slice)
        if node is not None and ref is not None and (rows or is_whole_index(target.slice)) and _fill_value(ref):
            self.produce(node, ref, line, ast.unparse(target)[:80] + " = " + ast.unparse(value)[:40], partial=rows)
            if not isinstance(ref, ParamRef):
                return  # (a parameter may be a tensor to copy, not a fill value: its callers will say)
        if node is not None:
            self._flow_into(node, value, line, "copy into " + ast.unparse(target)[:60])
        self.visit(value)

    def _remember_name(self, name: str, value: ast.AST, line: int) -> None:
        """Module constants, functools.partial, launcher variables and id ranges bound to a name."""
        if self.function_depth == 0 and not self.class_stack:
            ref = const_ref(value)
            if ref is not None:
                self.facts.constants[name] = ref
        if isinstance(value, ast.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] == "partial" and value.args:
            callee = dotted(value.args[0].value if isinstance(value.args[0], ast.Subscript) else value.args[0])
            if callee is not None:
                args = tuple(self.operand(a, line) for a in value.args[1:])
                kwargs = tuple((kw.arg, self.operand(kw.value, line)) for kw in value.keywords if kw.arg)
                self._partials[(self.qual, name)] = (callee, args, kwargs, isinstance(value.args[0], ast.Subscript))
        candidates = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
        names = [dotted(c.value if isinstance(c, ast.Subscript) else c) for c in candidates]
        if all(names) and isinstance(value, (ast.IfExp, ast.Name, ast.Attribute, ast.Subscript)):
            self._launchers[(self.qual, name)] = names  # kern = a if split else b

    def _id_range(self, node: Node, value: ast.AST, line: int) -> None:
        call = value
        while isinstance(call, ast.Call) and (dotted(call.func) or "").rsplit(".", 1)[-1] not in RANGE_FUNCS \
                and call.args:
            call = call.args[0]  # deque(range(1, n)), list(range(1, n)), torch.arange(1, n).tolist()
        if isinstance(call, ast.Call) and (dotted(call.func) or "").rsplit(".", 1)[-1] in RANGE_FUNCS:
            start = const_ref(call.args[0]) if len(call.args) >= 2 else 0
            if start is not None:
                self.facts.id_ranges.append(IdRange(node, start, line, ast.unparse(value)[:80]))

    def _dict_literal(self, node: Node, value: ast.Dict, line: int) -> None:
        """``{"slot_mapping": t, ...}``: each entry is the field named by its key; a constant entry may be that
        buffer's fill value (a padding table)."""
        for key, item in zip(value.keys, value.values):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isidentifier()):
                continue
            ref = self._const(item)
            if ref is not None and _fill_value(ref):
                self.facts.tables.append(TableEntry(node, key.value, ref, line))
            else:
                self.bind_value(field_write(key.value), item, line)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is None or self.function_depth == 0:
            return
        whole = returned(self.facts.module, self.qual)
        if isinstance(node.value, ast.Tuple):
            for i, element in enumerate(node.value.elts):
                self.bind_value(whole._replace(name=str(i)), element, node.lineno)
        else:
            if isinstance(node.value, ast.Call) and not isinstance(node.value.func, ast.Subscript):
                self._result_for[id(node.value)] = whole
            self.bind_value(whole, node.value, node.lineno)
        self.visit(node.value)

    # -- calls --------------------------------------------------------------------------------------------------
    def operand(self, expr: ast.AST, line: int):
        """One call argument: a flow node, a Const, or None (several sources meet in a node of their own)."""
        if isinstance(expr, ast.Starred):
            return None
        sources = self.sources(expr, line)
        nodes = [s for s in sources if isinstance(s, Node)]
        consts = [s for s in sources if isinstance(s, Const)]
        if len(nodes) == 1 and (not consts or isinstance(expr, ast.Name)):
            return nodes[0]
        if not nodes and consts:
            return consts[0]
        if not nodes:
            return None
        merged = argument(self.facts.module, self.qual, expr.lineno, expr.col_offset)
        for source in sources:
            if isinstance(source, Node):
                self.edge(source, merged, line, ast.unparse(expr)[:60])
            else:
                self.produce(merged, source.ref, line, ast.unparse(expr), ProducerKind.VALUE)
        return merged

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        self._learn_isinstance(node)
        if isinstance(func, ast.Attribute):
            self._method_call(node, func)
        is_launch = isinstance(func, ast.Subscript)
        callee = dotted(func.value if is_launch else func)
        if callee is not None and (self.function_depth > 0 or is_launch):
            self._call_site(node, callee, is_launch)
        self.generic_visit(node)

    def _learn_isinstance(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "isinstance" and len(node.args) == 2 and isinstance(
                node.args[0], ast.Name):
            classes = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            if len(classes) == 1:
                self.learn_type(node.args[0].id, class_of_annotation(classes[0]), 2)

    def _method_call(self, node: ast.Call, func: ast.Attribute) -> None:
        line = node.lineno
        if func.attr in IN_PLACE_FILLS and len(node.args) > (IN_PLACE_FILLS[func.attr] or -1):
            self._fill_in_place(node, func)
        elif func.attr == "copy_" and node.args:
            dst = self.node_of(func.value, write=True)
            if dst is not None:
                self._flow_into(dst, node.args[0], line, "copy_")
        elif func.attr in ("append", "extend", "insert") and node.args:
            # buffers.append(torch.full(...)): the list holds the tensor; buffers[i] reads it back
            container = self.node_of(func.value, write=True)
            item = self.operand(node.args[-1], line)
            if container is not None and isinstance(item, Node):
                self.edge(item, container, line, f".{func.attr}()")
        elif func.attr == "update" and node.args and isinstance(node.args[0], ast.Dict):
            container = self.node_of(func.value, write=True)
            if container is not None:
                self._dict_literal(container, node.args[0], line)

    def _fill_in_place(self, node: ast.Call, func: ast.Attribute) -> None:
        """``t[a:b].fill_(X)``, ``t.fill_(X)``, ``t.masked_fill_(m, X)``, ``t.index_fill_(d, i, X)``, ``t.zero_()``."""
        place = IN_PLACE_FILLS[func.attr]
        value = node.args[place] if place is not None else ast.Constant(0)
        if isinstance(value, ast.Subscript) and not isinstance(value.slice, ast.Constant):
            table = self.node_of(value.value)  # buf.fill_(pads[name]): a table of fill values
            if table is not None:
                self.facts.fill_tables.add(table)
            return
        target = func.value
        rows = isinstance(target, ast.Subscript) and is_padding_index(target.slice)
        if isinstance(target, ast.Subscript) and not (rows or is_whole_index(target.slice)
                                                      or self._string_key(target)):
            return  # t[:n].fill_(X): the first rows, not padding
        node_ = self.node_of(target, write=True)
        ref = self._const(value)
        if node_ is not None and ref is not None and _fill_value(ref):
            self.produce(node_, ref, node.lineno, ast.unparse(node), partial=func.attr != "fill_" or rows)

    def _call_site(self, node: ast.Call, callee: str, is_launch: bool) -> None:
        line = node.lineno
        args = tuple(self.operand(a, line) for a in node.args)
        kwargs = tuple((kw.arg, self.operand(kw.value, line)) for kw in node.keywords if kw.arg)
        result = self._result_for.pop(id(node), None)
        unpacked = result if result is not None and not isinstance(result, Node) else ()
        result = result if isinstance(result, Node) else None
        for target, bound_args, bound_kwargs, launch in self._resolve_local_callee(callee, is_launch):
            if not (any(a is not None for a in (*bound_args, *args))
                    or any(v is not None for _, v in (*bound_kwargs, *kwargs)) or result or unpacked):
                continue
            self.facts.calls.append(CallSite(target, self.qual, self.class_stack[-1] if self.class_stack else None,
                                             (*bound_args, *args), (*bound_kwargs, *kwargs), line, launch, result,
                                             unpacked))

    def _resolve_local_callee(self, callee: str, is_launch: bool) -> list:
        """What a call through a local name stands for: a functools.partial (its bound arguments come first), a
        launcher variable (one call per function it may hold), or the name itself."""
        for scope in (self.qual, ""):
            partial = self._partials.get((scope, callee))
            if partial is not None:
                target, args, kwargs, launch = partial
                return [(target, args, kwargs, is_launch or launch)]
            launchers = self._launchers.get((scope, callee))
            if launchers is not None:
                return [(target, (), (), is_launch) for target in launchers]
        return [(callee, (), (), is_launch)]


_EXTERNAL_HEADS = frozenset({"torch", "np", "numpy", "math", "F", "nn", "tl", "triton", "os", "sys", "json", "re",
                             "itertools", "functools", "collections", "logging", "logger", "time", "random", "typing",
                             "dataclasses", "copy", "operator", "warnings", "gc", "str", "dict", "set"})


def _may_be_project_call(func: ast.AST) -> bool:
    """A call whose result is worth a node: not a builtin, not a library function (``torch.empty``, ``len``)."""
    name = dotted(func)
    if name is None:
        return False
    head = name.split(".")[0]
    return head not in _EXTERNAL_HEADS and (head != name or head not in _BUILTIN_CALLS)


def _fill_value(ref) -> bool:
    """A value a buffer can be padded with: a literal or arithmetic, or a name (a parameter's callers say what it
    holds) that holds a scalar of that kind, not another tensor."""
    if isinstance(ref, ParamRef):
        ref = NameRef(ref.node.name)
    return not isinstance(ref, (NameRef, SelfAttr)) or _constant_name(ref) or _scalar_name(ref)


def _constant_name(ref) -> bool:
    """A name spelled like a constant (``PAD_SLOT_ID``, ``utils.NULL_BLOCK_ID``)."""
    return isinstance(ref, NameRef) and ref.last.isupper()


def _scalar_name(ref) -> bool:
    """A name that holds a scalar a buffer can be filled with: a sentinel, or a size or bound (``cfg.total_slots``,
    ``self.num_experts``, ``max_loras``) - "one past the last id"."""
    from ..vocabulary import looks_like_sentinel

    if not isinstance(ref, (NameRef, SelfAttr)):
        return False
    last = ref.last if isinstance(ref, NameRef) else ref.attr
    lowered = last.lower()
    if lowered.endswith(("len", "length", "count", "lens")):
        return False  # a length or a count fills lengths, not ids
    return looks_like_sentinel(last) or lowered.startswith(("num_", "max_", "total_", "n_")) or lowered.endswith(
        ("size", "_slots", "_blocks", "_pages", "_rows"))


def _is_config_dict(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Name) and expr.id in _NOT_DICT_KEYS


def _describe_kernel(info: FunctionFacts, node) -> None:
    """What decides whether a kernel is worth a libcst index flow: it compares, returns a value, stores, or calls
    another function by a bare name (a helper that may hold the guard or the access for it); and how deeply its
    expressions nest (libcst's parser recurses once per level)."""
    called, worth, nesting = set(), False, 0
    stack = [(n, 1) for n in node.body]
    while stack:  # ast.walk, without its per-node field iteration (kernel bodies are large)
        n, depth = stack.pop()
        kind = type(n)
        if kind is ast.Call:
            if type(n.func) is ast.Name and n.func.id not in _BUILTIN_CALLS:
                called.add(n.func.id)
            elif type(n.func) is ast.Attribute and (n.func.attr == "store" or n.func.attr.startswith("atomic_")):
                worth = True
        elif kind is ast.Compare or (kind is ast.Return and n.value is not None):
            worth = True
        # libcst nests `a or b or c` pairwise where ast keeps one flat BoolOp: count what libcst will see.
        depth += len(n.values) - 1 if kind is ast.BoolOp else 1
        nesting = max(nesting, depth)
        stack.extend((child, depth) for child in _child_nodes(n))
    info.called = tuple(sorted(called))
    info.worth_flow = worth or bool(called)
    info.nesting = nesting


_UNSET = object()
_HANDLERS: dict[type, object] = {}  # node type -> the FactsCollector method for it, or None
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}  # node type -> its fields that may hold nodes
# Nodes that hold nothing the facts pass records (no call, assignment, definition or import below them).
_LEAVES = frozenset({ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass, ast.Break, ast.Continue,
                     ast.alias})


def _child_nodes(node: ast.AST) -> list:
    """A node's children that may hold something the facts pass records, in field order (contexts, operators and
    leaves left out)."""
    kind = type(node)
    names = _CHILD_FIELDS.get(kind)
    if names is None:
        names = _CHILD_FIELDS[kind] = tuple(n for n in kind._fields if n not in ("ctx", "op", "ops"))
    out = []
    for name in names:
        value = getattr(node, name, None)
        if type(value) is list:
            out.extend(v for v in value if type(v) not in _LEAVES and isinstance(v, ast.AST))
        elif value is not None and type(value) not in _LEAVES and isinstance(value, ast.AST):
            out.append(value)
    return out
