"""What the index flow records about a kernel: guard sites, helper calls, return origins (plain, picklable data).

Kept apart from ``indexflow`` so that reading cached results needs no libcst import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .. import codec
from .ids import Origin


# -- a guard's predicate: which atoms it combines, and how ------------------------------------------------------

@dataclass(frozen=True)
class AtomRef:
    index: int  # into GuardSite.atoms


@dataclass(frozen=True)
class AllOf:
    parts: tuple  # of predicates: ``and``, ``&``, and the pairs of a chained comparison


@dataclass(frozen=True)
class AnyOf:
    parts: tuple  # ``or``, ``|``


@dataclass(frozen=True)
class Negation:
    inner: object  # ``not``, ``~``


@dataclass(frozen=True)
class Opaque:
    """A part that compares nothing tracked (``is``, ``in``, a flag): neutral in the verdict."""


Predicate = AtomRef | AllOf | AnyOf | Negation | Opaque


class GuardContext(Enum):
    IF = "if"
    WHILE = "while"
    WHERE = "where"  # the condition of tl.where
    MASK = "mask"  # a mask= argument
    ASSIGN = "assign"
    RETURN = "return"
    EXPR = "expr"


@dataclass
class Operand:
    origins: set[Origin]
    const: object  # int literal, a (dotted) name, or None
    text: str


@dataclass
class Atom:
    left: Operand
    op: str
    right: Operand
    cmp_index: int  # which comparison of the function, in source order (chained ones count once)
    pair: int  # which operator of that (possibly chained) comparison
    text: str


@dataclass
class GuardSite:
    function: str
    pred: Predicate
    atoms: list[Atom]
    text: str
    context: GuardContext


@dataclass
class HelperCall:
    callee: str
    args: list  # each: (value origins, pointer parameters)
    kwargs: dict
    line: int
    result: str | None = None


@dataclass
class FunctionAnalysis:
    qualname: str
    params: list[str]
    sites: list[GuardSite] = field(default_factory=list)
    calls: list[HelperCall] = field(default_factory=list)
    returns: tuple = (frozenset(), frozenset())
    stores_through: frozenset = frozenset()  # pointer parameters the function writes with tl.store / tl.atomic_*
    loads_through: frozenset = frozenset()  # pointer parameters it reads with tl.load, or hands to a helper


codec.register(AtomRef, AllOf, AnyOf, Negation, Opaque, GuardContext, Operand, Atom, GuardSite, HelperCall,
               FunctionAnalysis)
