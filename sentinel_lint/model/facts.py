"""Module facts: what one ``ast`` pass over a file records for the later stages (plain data, cached per file).

Import aliases, integer constants, which functions are Triton kernels, and the host value flow: the places values
are kept (flow-graph nodes), the edges between them, the constants written into them (padding, or plain values),
and the calls and launches that bind arguments to parameters.  ``collect.py`` computes them.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple, Union

from .. import codec
from ..vocabulary import looks_like_sentinel  # noqa: F401 - re-exported: model code asks facts for it
from .ids import Node


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
    worth_flow: bool = False  # compares, returns a value, stores, or calls a helper: worth a libcst index flow
    called: tuple[str, ...] = ()  # functions it calls by bare name (possible @triton.jit helpers)
    nesting: int = 0  # deepest expression nesting of a kernel body, as libcst's parser will recurse into it


# -- constants as written, folded once the whole project is known -------------------------------------------------

@dataclass(frozen=True)
class NameRef:
    """A constant spelled by name (``PAD_SLOT_ID``, ``utils.NULL_BLOCK_ID``, ``cfg.total_slots``)."""

    dotted: str

    @property
    def last(self) -> str:
        return self.dotted.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Negated:
    inner: "ConstRef"


@dataclass(frozen=True)
class Arith:
    op: str  # an ast operator's class name: "Add", "Sub", "Mult", "Pow", "LShift"
    left: "ConstRef"
    right: "ConstRef"


@dataclass(frozen=True)
class SelfAttr:
    """``self.pad_slot_id`` inside class ``owner``: the constant that class (or the one class that sets it) binds."""

    owner: str
    attr: str


@dataclass(frozen=True)
class ParamRef:
    """A parameter of the enclosing function, with no default: the value is whatever its callers pass
    (``torch.full(shape, pad_value)`` in ``def pack(tokens, pad_value)``)."""

    node: Node


ConstRef = Union[int, NameRef, Negated, Arith, SelfAttr, ParamRef]
ARITH_OPS = {ast.Add: "Add", ast.Sub: "Sub", ast.Mult: "Mult", ast.Pow: "Pow", ast.LShift: "LShift"}


class Const(NamedTuple):
    """A call argument that is a constant (a flow-graph node otherwise)."""

    ref: ConstRef


ArgValue = Union[Node, Const, None]


# -- the host value flow -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Edge:
    """Values flow from ``src`` to ``dst``."""

    src: Node
    dst: Node
    line: int
    what: str
    by_name: bool = False  # made by a name alone (an attribute of an object of unknown class)


class ProducerKind(IntEnum):
    PAD = 1  # padding written into (some rows of) a tensor
    VALUE = 2  # a constant bound to a name: a parameter default, an assignment, a launch argument


@dataclass(frozen=True)
class Producer:
    """``node`` receives the constant ``value`` at ``line``."""

    node: Node
    value: ConstRef
    line: int
    what: str
    kind: ProducerKind = ProducerKind.PAD
    partial: bool = False  # written into some rows only (t[n:] = X): padding, never mere initialisation


@dataclass(frozen=True)
class CallSite:
    """A call in host code, or a launch ``kernel[grid](...)``: arguments as nodes or constants."""

    callee: str  # dotted text of the callee, e.g. "fused_recurrent_fwd", "FusedRecurrentFunction.apply"
    scope: str  # qualname of the calling function ("" at module level)
    class_name: str | None
    args: tuple[ArgValue, ...]
    kwargs: tuple[tuple[str, ArgValue], ...]
    line: int
    is_launch: bool
    result: Node | None = None  # the node the call's whole return value is assigned to
    unpacked: tuple[tuple[int, Node], ...] = ()  # `a, b = f()`: (element, node) for each target


@dataclass(frozen=True)
class TableEntry:
    """``{"state_rows": cfg.state_pad_id, ...}`` assigned to ``node``: a table that may hold padding per buffer."""

    node: Node
    key: str
    value: ConstRef
    line: int


@dataclass(frozen=True)
class IdRange:
    """Host code that hands out ids from a range: ``torch.arange(1, n)``, ``deque(range(1, num_blocks))``."""

    node: Node  # where the range is kept
    start: ConstRef
    line: int
    what: str


@dataclass
class ModuleFacts:
    path: str
    module: str  # dotted module name guessed from the path
    digest: str = ""
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # alias -> (module, name or None)
    constants: dict[str, ConstRef] = field(default_factory=dict)  # module-level constants
    functions: list[FunctionFacts] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)  # class -> method names
    class_bases: dict[str, list[str]] = field(default_factory=dict)
    class_fields: dict[str, list[str]] = field(default_factory=dict)  # class -> declared fields, in order
    field_constants: dict[tuple[str, str], ConstRef] = field(default_factory=dict)  # (class, attr) -> constant
    typed_fields: set[tuple[str, str]] = field(default_factory=set)  # (class, field) seen with a known class
    edges: list[Edge] = field(default_factory=list)
    producers: list[Producer] = field(default_factory=list)
    calls: list[CallSite] = field(default_factory=list)
    tables: list[TableEntry] = field(default_factory=list)
    fill_tables: set[Node] = field(default_factory=set)  # nodes whose entries are used as fill values
    id_ranges: list[IdRange] = field(default_factory=list)
    triton_aliases: set[str] = field(default_factory=set)  # names bound to the triton (or gluon) module
    jit_aliases: set[str] = field(default_factory=set)  # names bound to a jit decorator
    has_suppressions: bool = False

    @property
    def kernels(self) -> list[FunctionFacts]:
        return [f for f in self.functions if f.is_kernel]


# -- reading ast ---------------------------------------------------------------------------------------------------

def dotted(expr: ast.AST) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        base = dotted(expr.value)
        return f"{base}.{expr.attr}" if base else None
    return None


def const_ref(expr: ast.AST) -> ConstRef | None:
    """An int literal, -literal, a (dotted) name, or simple arithmetic of those; None for anything else."""
    if isinstance(expr, ast.Constant):
        return expr.value if isinstance(expr.value, int) and not isinstance(expr.value, bool) else None
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
        inner = const_ref(expr.operand)
        if isinstance(inner, int):
            return -inner if isinstance(expr.op, ast.USub) else inner
        if inner is not None:
            return Negated(inner) if isinstance(expr.op, ast.USub) else inner
        return None
    if isinstance(expr, ast.BinOp) and type(expr.op) in ARITH_OPS:
        left, right = const_ref(expr.left), const_ref(expr.right)
        if left is None or right is None:
            return None
        return Arith(ARITH_OPS[type(expr.op)], left, right)
    if isinstance(expr, ast.Call) and len(expr.args) == 1 and (dotted(expr.func) or "").endswith("constexpr"):
        return const_ref(expr.args[0])  # PAD = tl.constexpr(-1)
    name = dotted(expr)
    return NameRef(name) if name is not None else None


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
        sides = [c for c in (class_of_annotation(annotation.left), class_of_annotation(annotation.right)) if c]
        return sides[0] if len(sides) == 1 else None
    if isinstance(annotation, ast.Subscript) and (dotted(annotation.value) or "").endswith("Optional"):
        return class_of_annotation(annotation.slice)
    last = (dotted(annotation) or "").rsplit(".", 1)[-1]
    return last if last[:1].isupper() and last not in ("None", "Any", "Tensor") else None


def is_padding_index(index: ast.AST) -> bool:
    """``t[n:]``, ``t[a:b, ...]``, ``t[:num_dummy]``, ``t[..., 0]`` or ``t[~mask]`` write some rows: with a
    constant, padding.  ``t[:1]`` writes a fixed head, ``t[i]`` one element, ``t[:]`` the whole tensor."""
    if isinstance(index, ast.Slice):
        return _rows(index)
    if isinstance(index, ast.Tuple):
        slices = [e for e in index.elts if isinstance(e, ast.Slice)]
        whole = all(isinstance(e, ast.Slice) and e.lower is None and e.upper is None for e in index.elts)
        leading = index.elts[0] if index.elts else None
        if isinstance(leading, ast.Slice) and (leading.lower is None or _is_zero(leading.lower)) \
                and leading.upper is not None:
            return _rows(leading)
        return (bool(slices) or any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in index.elts)) \
            and not whole
    return isinstance(index, (ast.UnaryOp, ast.Compare, ast.BinOp)) and not isinstance(const_ref(index), int)


def is_whole_index(index: ast.AST) -> bool:
    """``t[:]``, ``t[...]``, ``t[:, :]``: every element."""
    if isinstance(index, ast.Slice):
        return index.lower is None and index.upper is None or (_is_zero(index.lower) and index.upper is None)
    if isinstance(index, ast.Constant):
        return index.value is Ellipsis
    if isinstance(index, ast.Tuple):
        return all(is_whole_index(e) for e in index.elts)
    return False


def _rows(index: ast.Slice) -> bool:
    """Rows a count decides: past ``n`` (``t[n:]``, ``t[n:m]``), or the first ``n`` dummy rows (``t[:num_rows]``);
    not a fixed head (``t[:1] = 0``, a cumulative sum's leading zero) nor the whole tensor."""
    if index.lower is not None and not _is_zero(index.lower):
        return True
    return index.upper is not None and not isinstance(const_ref(index.upper), int)


def _is_zero(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Constant) and expr.value == 0


def collect_facts(tree: ast.Module, path: str, module: str) -> ModuleFacts:
    from .collect import FactsCollector

    return FactsCollector(ModuleFacts(path=path, module=module)).run(tree)


codec.register(NameRef, Negated, Arith, SelfAttr, ParamRef, Const, ProducerKind, FunctionFacts, Edge, Producer, CallSite,
               TableEntry, IdRange, ModuleFacts)
