"""Module facts: one fast ``ast`` pass per file, before any kernel is analysed (pyflakes' order).

It records what later stages need and nothing else: import aliases, integer constants, which functions are Triton
kernels, and the host-side value flow that carries padding from where it is written to a kernel launch.  Facts are
plain, picklable data so they can be computed in worker processes and cached by content hash.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import IntEnum

from typing import NamedTuple, Union

from .. import codec
from .ids import Node, argument, field_read, field_write, local, returned, typed_field

@dataclass(frozen=True)
class NameRef:
    """A constant spelled by name (``PAD_SLOT_ID``, ``utils.NULL_BLOCK_ID``), resolved later through imports."""

    dotted: str

    @property
    def last(self) -> str:
        return self.dotted.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Negated:
    inner: "ConstRef"


@dataclass(frozen=True)
class Arith:
    op: str  # "Add", "Sub" or "Mult"
    left: "ConstRef"
    right: "ConstRef"


@dataclass(frozen=True)
class SelfAttr:
    """``self.pad_slot_id`` inside class ``owner``: the constant that class (or the one class that sets it) binds."""

    owner: str
    attr: str


# A constant as written, to be folded statically once the whole project is known.
ConstRef = Union[int, NameRef, Negated, Arith, SelfAttr]


class Const(NamedTuple):
    """A call argument that is a constant (a flow-graph node otherwise)."""

    ref: ConstRef


ArgValue = Union[Node, Const, None]

# Tensor methods that return the same storage (or a cast of it): padding written into one is in the other.
ALIAS_METHODS = frozenset(
    {"to", "contiguous", "view", "reshape", "flatten", "narrow", "long", "int", "clone", "squeeze", "unsqueeze",
     "view_as", "expand", "expand_as", "detach", "cuda", "type", "as_strided", "T", "t", "select", "index_select",
     "repeat_interleave"}
)
FULL_FUNCS = frozenset({"full", "full_like", "new_full"})
ZERO_FUNCS = frozenset({"zeros_like", "new_zeros"})
TRITON_MODULE_HINTS = ("triton",)


@dataclass
class FunctionFacts:
    name: str
    qualname: str  # Class.method or function name, unique within the module
    line: int  # the `def` line
    end_line: int
    col: int
    params: list[str]
    class_name: str | None = None
    is_kernel: bool = False
    worth_flow: bool = False  # holds a comparison (a possible guard) or returns a value (a load helper)
    called: tuple[str, ...] = ()  # functions it calls by bare name (possible @triton.jit helpers)
    nesting: int = 0  # deepest expression nesting of a kernel body, as libcst's parser will recurse into it


@dataclass(frozen=True)
class Edge:
    """Values flow from ``src`` to ``dst``."""

    src: Node
    dst: Node
    line: int
    what: str
    by_name: bool = False


class ProducerKind(IntEnum):
    PAD = 1  # padding written into (some rows of) a tensor
    VALUE = 2  # a constant bound to a name: a parameter default, an assignment, a launch argument


@dataclass(frozen=True)
class Producer:
    """``node`` receives the constant ``value`` at ``line``: padding written into a tensor (``kind='pad'``) or a
    plain value bound to a name (``kind='value'``, e.g. a parameter default)."""

    node: Node
    value: ConstRef
    line: int
    what: str
    kind: ProducerKind = ProducerKind.PAD
    partial: bool = False  # written into some rows only (t[n:] = X): padding, never mere initialisation


@dataclass(frozen=True)
class CallSite:
    """A call in host code (or a launch ``kernel[grid](...)``): arguments as node keys or constants."""

    callee: str  # dotted text of the callee, e.g. "fused_recurrent_fwd", "FusedRecurrentFunction.apply"
    scope: str  # qualname of the calling function ("" at module level)
    class_name: str | None
    args: tuple[ArgValue, ...]
    kwargs: tuple[tuple[str, ArgValue], ...]
    line: int
    is_launch: bool
    result: Node | None = None  # the node the call's return value is assigned to


@dataclass
class ModuleFacts:
    path: str
    module: str  # dotted module name guessed from the path
    digest: str = ""
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # alias -> (module, name or None)
    constants: dict[str, ConstRef] = field(default_factory=dict)  # module-level constants
    functions: list[FunctionFacts] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)  # class -> method names
    edges: list[Edge] = field(default_factory=list)
    producers: list[Producer] = field(default_factory=list)
    calls: list[CallSite] = field(default_factory=list)
    triton_aliases: set[str] = field(default_factory=set)
    jit_aliases: set[str] = field(default_factory=set)
    class_bases: dict[str, list[str]] = field(default_factory=dict)
    field_constants: dict[tuple[str, str], ConstRef] = field(default_factory=dict)  # (class, attr) -> constant
    typed_fields: set[tuple[str, str]] = field(default_factory=set)  # (class, field) seen with a known class
    has_suppressions: bool = False

    @property
    def kernels(self) -> list[FunctionFacts]:
        return [f for f in self.functions if f.is_kernel]


# Accessors of buffer wrappers (vLLM's CpuGpuBuffer.gpu, .np, ...): on their own they name nothing, so the field
# they belong to is part of the key (``self.slot_mapping.gpu`` → ``slot_mapping.gpu``).
GENERIC_ACCESSORS = frozenset({"gpu", "cpu", "np", "data", "tensor", "buffer", "value", "values", "weight"})


def field_node(name: str, owner: str | None = None, write: bool = False) -> Node:
    """A field of objects of a known class; otherwise a read (it sees every class's field of that name) or a write
    (it reaches every class's field of that name)."""
    if owner:
        return typed_field(owner, name)
    return field_write(name) if write else field_read(name)


def class_of_annotation(annotation: ast.AST | None) -> str | None:
    """``Mamba2AttentionMetadata``, ``X | None``, ``Optional[X]``, ``"X"`` → the class name, else None."""
    if annotation is None:
        return None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        sides = [class_of_annotation(annotation.left), class_of_annotation(annotation.right)]
        sides = [c for c in sides if c]
        return sides[0] if len(sides) == 1 else None
    if isinstance(annotation, ast.Subscript) and (dotted(annotation.value) or "").endswith("Optional"):
        return class_of_annotation(annotation.slice)
    name = dotted(annotation)
    if name and name.rsplit(".", 1)[-1][:1].isupper() and name.rsplit(".", 1)[-1] not in ("None", "Any", "Tensor"):
        return name.rsplit(".", 1)[-1]
    return None


def is_padding_index(index: ast.AST) -> bool:
    """``t[n:]``, ``t[a:b, ...]`` or ``t[~mask]`` write a range of rows; ``t[0]`` or ``t[i]`` write one element."""
    if isinstance(index, ast.Slice):
        return True
    if isinstance(index, ast.Tuple):
        return any(isinstance(e, ast.Slice) for e in index.elts) and not all(
            isinstance(e, ast.Slice) and e.lower is None and e.upper is None for e in index.elts)
    return isinstance(index, (ast.UnaryOp, ast.Compare, ast.BinOp)) and not isinstance(const_ref(index), int)


def dotted(expr: ast.AST) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        base = dotted(expr.value)
        return f"{base}.{expr.attr}" if base else None
    return None


def const_ref(expr: ast.AST):
    """An int literal, -literal, a (dotted) name, or simple arithmetic of those; None for anything else."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, int) and not isinstance(expr.value, bool):
        return expr.value
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
        inner = const_ref(expr.operand)
        if isinstance(inner, int):
            return -inner if isinstance(expr.op, ast.USub) else inner
        if inner is not None:
            return Negated(inner) if isinstance(expr.op, ast.USub) else inner
        return None
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Sub, ast.Mult)):
        left, right = const_ref(expr.left), const_ref(expr.right)
        if left is None or right is None:
            return None
        return Arith(type(expr.op).__name__, left, right)
    if isinstance(expr, ast.Call) and len(expr.args) == 1 and (dotted(expr.func) or "").endswith("constexpr"):
        return const_ref(expr.args[0])  # PAD = tl.constexpr(-1)
    name = dotted(expr)
    if name is not None:
        return NameRef(name)
    return None


class _FactsVisitor(ast.NodeVisitor):
    def __init__(self, facts: ModuleFacts):
        self.facts = facts
        self.scope: list[str] = []  # qualname parts of enclosing functions/classes
        self.class_stack: list[str] = []
        self.function_depth = 0
        self._result_for: dict[int, Node] = {}
        self.types: list[dict[str, str]] = []
        self.param_defaults: list[dict[str, object]] = []  # per enclosing function: parameter -> default's ConstRef
        self._synthetic: set[Node] = set()

    # -- traversal ----------------------------------------------------------------------------------------------
    # ast.NodeVisitor looks up a method by name for every node and walks every field, contexts and operators
    # included; the facts pass visits every host statement of hundreds of files, so both are table lookups here.
    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        method = _HANDLERS.get(kind, _UNSET)
        if method is _UNSET:
            method = _HANDLERS[kind] = getattr(_FactsVisitor, "visit_" + kind.__name__, None)
        if method is not None:
            method(self, node)
        else:
            self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for child in _child_nodes(node):
            self.visit(child)

    # -- scopes -------------------------------------------------------------------------------------------------
    @property
    def qual(self) -> str:
        return ".".join(self.scope)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self.function_depth == 0:
            self.facts.classes.setdefault(node.name, [])
            self.facts.class_bases[node.name] = [b.rsplit(".", 1)[-1] for b in map(dotted, node.bases) if b]
        self.scope.append(node.name)
        self.class_stack.append(node.name)
        self.generic_visit(node)
        self.class_stack.pop()
        self.scope.pop()

    def visit_FunctionDef(self, node) -> None:
        self.scope.append(node.name)
        qual = self.qual
        args = node.args
        params = [a.arg for a in args.posonlyargs + args.args]
        if args.vararg:
            params.append("*" + args.vararg.arg)
        params += [a.arg for a in args.kwonlyargs]
        class_name = self.class_stack[-1] if self.class_stack and self.scope[-2:-1] == self.class_stack[-1:] else None
        decorators = [d for d in node.decorator_list if self._is_jit_decorator(d)]
        info = FunctionFacts(
            name=node.name, qualname=qual, line=node.lineno, end_line=node.end_lineno or node.lineno,
            col=node.col_offset, params=params, class_name=class_name, is_kernel=bool(decorators),
        )
        if info.is_kernel:
            # A kernel is worth a flow analysis if it may hold a guard, returns a value (a load helper), or calls
            # another function by a bare name (a helper that may hold the guard for it).
            called, may_guard, nesting = set(), False, 0
            stack = [(n, 1) for n in node.body]
            while stack:  # ast.walk, without its per-node field iteration (kernel bodies are large)
                n, depth = stack.pop()
                kind = type(n)
                if kind is ast.Call and type(n.func) is ast.Name and n.func.id not in _BUILTIN_CALLS:
                    called.add(n.func.id)
                elif not may_guard and (kind is ast.Compare or kind is ast.Return):
                    may_guard = _may_guard(n) or (kind is ast.Return and n.value is not None)
                # libcst nests `a or b or c` pairwise where ast keeps one flat BoolOp: count what libcst will see.
                depth += len(n.values) - 1 if kind is ast.BoolOp else 1
                nesting = max(nesting, depth)
                stack.extend((child, depth) for child in _child_nodes(n))
            info.called = tuple(sorted(called))
            info.worth_flow = may_guard or bool(called)
            info.nesting = nesting
        self.facts.functions.append(info)
        if class_name is not None:
            self.facts.classes.setdefault(class_name, []).append(node.name)
        # Parameter defaults bind a value to the parameter (``pad_slot_id: int = PAD_SLOT_ID``).
        positional = args.posonlyargs + args.args
        defaults = {}
        for arg, default in [*zip(positional[len(positional) - len(args.defaults):], args.defaults),
                             *zip(args.kwonlyargs, args.kw_defaults)]:
            ref = self._default(qual, arg.arg, default) if default is not None else None
            if ref is not None:
                defaults[arg.arg] = ref
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

    def _default(self, qual: str, name: str, default: ast.AST):
        """Record a constant default as a value bound to the parameter; returns it (or None)."""
        ref = const_ref(default)
        if ref is None or (isinstance(ref, NameRef) and ref.dotted in ("None", "True", "False")):
            return None
        self.facts.producers.append(Producer(self.local(name, qual), ref, default.lineno,
                                             f"default {name}={ast.unparse(default)}", ProducerKind.VALUE))
        return ref

    # -- imports and constants --------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            local = alias.asname or alias.name.split(".")[0]
            target = alias.name if alias.asname else alias.name.split(".")[0]
            self.facts.imports[local] = (target, None)
            if alias.name == "triton" or alias.name.endswith(".triton"):
                self.facts.triton_aliases.add(local)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            local = alias.asname or alias.name
            self.facts.imports[local] = (module, alias.name)
            # `from vllm.triton_utils import triton`: triton re-exported through another module.
            if alias.name == "triton":
                self.facts.triton_aliases.add(local)
            if alias.name == "jit" and any(h in module for h in TRITON_MODULE_HINTS):
                self.facts.jit_aliases.add(local)

    def _is_jit_decorator(self, dec: ast.AST) -> bool:
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = dotted(target)
        if name is None:
            return False
        if name in self.facts.jit_aliases:
            return True
        head, _, tail = name.partition(".")
        return bool(tail) and head in self.facts.triton_aliases and name.endswith("jit")

    # -- host value flow --------------------------------------------------------------------------------------
    def local(self, name: str, scope: str | None = None) -> Node:
        return local(self.facts.module, self.qual if scope is None else scope, name)

    def operand(self, expr: ast.AST) -> ArgValue:
        """The flow node of a tensor-ish argument, a Const for a constant, else None."""
        if isinstance(expr, ast.Starred):
            return None
        if isinstance(expr, ast.Call) and self._writes_padding(expr):
            # Meta(state_indices=torch.full(..., PAD)): the padded tensor exists only as this argument
            node = argument(self.facts.module, self.qual, expr.lineno, expr.col_offset)
            if node not in self._synthetic:
                self._synthetic.add(node)
                self._record_value(node, expr, expr.lineno)
            return node
        ref = const_ref(expr)
        if isinstance(ref, int) or (ref is not None and not isinstance(expr, (ast.Name, ast.Attribute))):
            return Const(ref)
        node = self.node_of(expr)
        if node is not None:
            return node
        if ref is not None:
            return Const(ref)
        return None

    def node_of(self, expr: ast.AST, write: bool = False) -> Node | None:
        """The flow node a tensor expression denotes: a local, a field, or what a view/slice/cast of it denotes."""
        if isinstance(expr, ast.Name):
            return self.local(expr.id)
        if isinstance(expr, ast.Attribute):
            return self.attribute_key(expr, write)
        if isinstance(expr, ast.Subscript):
            if isinstance(expr.value, ast.Name) and expr.value.id in ("META", "kwargs", "args"):
                return None
            return self.node_of(expr.value, write)
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in ALIAS_METHODS:
            return self.node_of(expr.func.value, write)
        return None

    def attribute_key(self, expr: ast.Attribute, write: bool) -> Node:
        name, base = expr.attr, expr.value
        if name in GENERIC_ACCESSORS and isinstance(base, ast.Attribute):
            name, base = f"{base.attr}.{name}", base.value
        owner = None
        if isinstance(base, ast.Name):
            owner = self.type_of(base.id)
            if owner:
                self.facts.typed_fields.add((owner, name))
        return field_node(name, owner, write)

    # -- what the code says about a local's class, learnt in order as the body is visited ------------------------
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

    def _writes_padding(self, call: ast.Call) -> bool:
        last = (dotted(call.func) or "").rsplit(".", 1)[-1]
        return self._full_value(call) is not None or last in ("where", "pad")

    def _const(self, expr: ast.AST):
        """A constant reference, with ``self.X`` tied to the enclosing class (``torch.full(n, self.pad_slot_id)``)."""
        ref = const_ref(expr)
        if not isinstance(ref, NameRef):
            return ref
        if ref.dotted.startswith("self.") and ref.dotted.count(".") == 1 and self.class_stack:
            return SelfAttr(self.class_stack[-1], ref.dotted[5:])
        if self.param_defaults and ref.dotted in self.param_defaults[-1]:
            # torch.full(n, pad_value) in `def build(..., pad_value=INVALID_SLOT)`: the padding callers get by default
            return self.param_defaults[-1][ref.dotted]
        return ref

    def _full_value(self, call: ast.Call):
        """The fill value of ``torch.full(...)``, ``torch.full_like(t, X)``, ``t.new_full(shape, X)``."""
        if not isinstance(call, ast.Call) or not isinstance(call.func, (ast.Attribute, ast.Name)):
            return None
        fname = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id
        if fname not in FULL_FUNCS:
            return None
        for kw in call.keywords:
            if kw.arg == "fill_value":
                return self._const(kw.value)
        if len(call.args) >= 2:
            return self._const(call.args[1])
        return None

    def _record_value(self, target_key: Node, value: ast.AST, line: int) -> None:
        """Record what assigning ``value`` to ``target_key`` means: padding written, or a flow edge."""
        fill = self._full_value(value)
        if fill is not None:
            self.facts.producers.append(Producer(target_key, fill, line, ast.unparse(value)[:120]))
            return
        if isinstance(value, ast.Call):
            fname = dotted(value.func) or ""
            last = fname.rsplit(".", 1)[-1]
            if last == "where" and len(value.args) == 3:  # torch.where(cond, full_like(t, X), t)
                for branch in value.args[1:]:
                    fill = self._full_value(branch)
                    ref = const_ref(branch)
                    if fill is None and isinstance(ref, int):
                        fill = ref
                    if fill is None and isinstance(branch, ast.Call) and (
                            (dotted(branch.func) or "").rsplit(".", 1)[-1] in ZERO_FUNCS):
                        fill = 0  # torch.where(valid, idx, torch.zeros_like(idx))
                    if fill is not None:  # only the rows the condition picks: padding, not initialisation
                        self.facts.producers.append(Producer(target_key, fill, line, ast.unparse(value)[:120],
                                                             partial=True))
                    else:
                        src = self.node_of(branch)
                        if src:
                            self.facts.edges.append(Edge(src, target_key, line, "torch.where"))
                return
            if last == "pad" and value.args:  # F.pad(t, pad, value=X)
                for kw in value.keywords:
                    if kw.arg == "value":
                        ref = const_ref(kw.value)
                        if ref is not None:
                            self.facts.producers.append(Producer(target_key, ref, line, ast.unparse(value)[:120]))
                src = self.node_of(value.args[0])
                if src:
                    self.facts.edges.append(Edge(src, target_key, line, "pad"))
                return
            if last in ("cat", "stack") and value.args and isinstance(value.args[0], (ast.List, ast.Tuple)):
                for elt in value.args[0].elts:
                    src = self.node_of(elt)
                    if src:
                        self.facts.edges.append(Edge(src, target_key, line, last))
                return
            self._result_for[id(value)] = target_key
            self.visit(value)  # calls inside a right-hand side still bind arguments
            if isinstance(value.func, ast.Attribute) and value.func.attr in ALIAS_METHODS:
                src = self.node_of(value)
                if src:
                    self.facts.edges.append(Edge(src, target_key, line, f".{value.func.attr}()"))
            return
        if isinstance(value, ast.IfExp):
            self._record_value(target_key, value.body, line)
            self._record_value(target_key, value.orelse, line)
            return
        ref = const_ref(value)
        if isinstance(ref, int) or (ref is not None and isinstance(value, (ast.UnaryOp, ast.BinOp))):
            self.facts.producers.append(Producer(target_key, ref, line, ast.unparse(value)[:120], ProducerKind.VALUE))
            return
        src = self.node_of(value)
        if src is not None and src != target_key:
            what = "alias" if isinstance(value, ast.Name) else ast.unparse(value)[:60]
            self.facts.edges.append(Edge(src, target_key, line, what, by_name=isinstance(value, ast.Attribute)))
        if isinstance(ref, NameRef) and src is not None:
            # A bare name may also be a constant (``x = PAD_SLOT_ID``): keep it as a possible value.
            if ref.dotted[:1].isupper():
                self.facts.producers.append(Producer(target_key, ref, line, ast.unparse(value)[:120],
                                                     ProducerKind.VALUE))
        self.visit(value)

    def _assign(self, target: ast.AST, value: ast.AST, line: int) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts):
                    self._assign(t, v, line)
            else:
                self.visit(value)
            return
        if isinstance(target, ast.Subscript):
            # ``t[n:] = X`` writes padding; ``t[:n] = src`` copies src's values into t.
            key = self.node_of(target.value, write=True)
            ref = self._const(value)
            named_constant = isinstance(ref, NameRef) and ref.last.isupper()
            if key and (isinstance(ref, int) or named_constant) and is_padding_index(target.slice):
                self.facts.producers.append(Producer(key, ref, line, ast.unparse(target)[:80] + " = "
                                                     + ast.unparse(value)[:40], partial=True))
                return
            src = self.node_of(value)
            if key and src:
                self.facts.edges.append(Edge(src, key, line, "copy into " + ast.unparse(target)[:60]))
            self.visit(value)
            return
        if self.function_depth == 0 and not self.class_stack and isinstance(target, ast.Name):
            ref = const_ref(value)
            if ref is not None:
                self.facts.constants[target.id] = ref
        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
                and self.class_stack):
            ref = const_ref(value)
            if ref is not None and not isinstance(value, ast.Attribute):
                self.facts.field_constants[(self.class_stack[-1], target.attr)] = ref  # self.pad_slot_id = PAD_SLOT_ID
        key = self.node_of(target, write=True) if isinstance(target, (ast.Name, ast.Attribute)) else None
        if key is None:
            self.visit(value)
            return
        self._record_value(key, value, line)

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call):
            callee = dotted(node.value.func) or ""
            last = callee.rsplit(".", 1)[-1]
            if last[:1].isupper():
                self.learn_type(node.targets[0].id, last, 1)
            elif last == "cast" and node.value.args:
                self.learn_type(node.targets[0].id, class_of_annotation(node.value.args[0]), 1)
        for target in node.targets:
            self._assign(target, node.value, node.lineno)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.learn_type(node.target.id, class_of_annotation(node.annotation), 0)
        if node.value is not None:
            self._assign(node.target, node.value, node.lineno)
            if self.class_stack and self.function_depth == 0 and isinstance(node.target, ast.Name):
                # dataclass field default: ``state_indices: Tensor = field(...)`` is not padding; nothing to do.
                pass

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "isinstance" and len(node.args) == 2 and isinstance(
            node.args[0], ast.Name
        ):
            classes = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            if len(classes) == 1:
                self.learn_type(node.args[0].id, class_of_annotation(classes[0]), 2)
        # ``t[a:b].fill_(X)`` / ``t.fill_(X)``
        if isinstance(func, ast.Attribute) and func.attr == "fill_" and node.args and (
            not isinstance(func.value, ast.Subscript) or is_padding_index(func.value.slice)
        ):
            key = self.node_of(func.value, write=True)
            ref = self._const(node.args[0])
            if key and ref is not None:
                self.facts.producers.append(Producer(key, ref, node.lineno, ast.unparse(node)[:120],
                                                     partial=isinstance(func.value, ast.Subscript)))
        if isinstance(func, ast.Attribute) and func.attr == "copy_" and node.args:
            dst, src = self.node_of(func.value, write=True), self.node_of(node.args[0])
            if dst and src:
                self.facts.edges.append(Edge(src, dst, node.lineno, "copy_"))
        if isinstance(func, ast.Attribute) and func.attr in ("append", "extend", "insert") and node.args:
            # buffers.append(torch.full(...)): the list holds the tensor; buffers[i] reads it back
            container = self.node_of(func.value, write=True)
            item = self.operand(node.args[-1])
            if container and isinstance(item, Node):
                self.facts.edges.append(Edge(item, container, node.lineno, f".{func.attr}()"))
        is_launch = isinstance(func, ast.Subscript)
        callee = dotted(func.value if is_launch else func)
        if callee is not None and self.function_depth > 0 or (callee is not None and is_launch):
            args = tuple(self.operand(a) for a in node.args)
            kwargs = tuple((kw.arg, self.operand(kw.value)) for kw in node.keywords if kw.arg)
            if any(a is not None for a in args) or any(v is not None for _, v in kwargs):
                self.facts.calls.append(CallSite(callee, self.qual, self.class_stack[-1] if self.class_stack else None,
                                                 args, kwargs, node.lineno, is_launch,
                                                 self._result_for.pop(id(node), None)))
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and self.function_depth > 0:
            src = self.node_of(node.value)
            if src:
                self.facts.edges.append(Edge(src, returned(self.facts.module, self.qual), node.lineno, "return"))
            self.visit(node.value)


_UNSET = object()
_HANDLERS: dict[type, object] = {}  # node type -> the _FactsVisitor method for it, or None
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


_BUILTIN_CALLS = frozenset({"range", "len", "min", "max", "int", "float", "bool", "abs", "print", "isinstance",
                            "tuple", "list", "static_range", "zip", "enumerate"})
SENTINEL_WORDS = ("pad", "null", "sentinel", "invalid", "placeholder", "empty", "dummy", "unused")


def looks_like_sentinel(name: str) -> bool:
    """A name that carries a sentinel (``pad_slot_id``, ``NULL_BLOCK_ID``), not a bound like ``num_blocks``."""
    lowered = name.lower()
    return any(word in lowered for word in SENTINEL_WORDS)


def _may_guard(node: ast.AST) -> bool:
    """A comparison that could be a sentinel guard: one operand is an int literal or a sentinel-like name."""
    if not isinstance(node, ast.Compare):
        return False
    for operand in (node.left, *node.comparators):
        if isinstance(const_ref(operand), int):
            return True
        name = dotted(operand)
        if name and looks_like_sentinel(name):
            return True
    return False


def collect_facts(tree: ast.Module, path: str, module: str) -> ModuleFacts:
    facts = ModuleFacts(path=path, module=module)
    _FactsVisitor(facts).visit(tree)
    # ``kernel = triton.jit(fn)``: a function turned into a kernel by a call rather than a decorator.
    by_name = {f.qualname: f for f in facts.functions}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and stmt.value.args:
            fname = dotted(stmt.value.func) or ""
            head = fname.split(".")[0]
            if (fname in facts.jit_aliases or (head in facts.triton_aliases and fname.endswith("jit"))) and isinstance(
                stmt.value.args[0], ast.Name
            ):
                fn = by_name.get(stmt.value.args[0].id)
                if fn is not None:
                    fn.is_kernel = True
    return facts


codec.register(NameRef, Negated, Arith, SelfAttr, Const, ProducerKind, FunctionFacts, Edge, Producer, CallSite,
               ModuleFacts)
