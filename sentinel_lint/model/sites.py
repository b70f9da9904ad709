"""What the index flow records about a kernel: guard sites, helper calls, return origins (plain, picklable data).

Kept apart from ``indexflow`` so that reading cached results needs no libcst import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

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


class Condition(NamedTuple):
    """One condition a statement runs under: the branch of an ``if`` (or a loop) it is in, or the negation of an
    earlier ``if P: return`` in its block."""

    site: int | None  # the guard site that is the test, if it is one (None: a test on no tracked value)
    holds: bool  # the statement runs where the test is true (False: where it is false)
    depends: frozenset = frozenset()  # the origins the test depends on
    loop: bool = False  # a loop's test or iterable: zero iterations skip the body


@dataclass
class GuardSite:
    function: str
    pred: Predicate
    atoms: list[Atom]
    text: str
    context: GuardContext
    index: int = 0  # in FunctionAnalysis.sites
    path: tuple = ()  # Conditions the guard itself is evaluated under
    order: int = 0  # statement order in the function


class AccessKind(Enum):
    LOAD = "load"
    STORE = "store"
    ATOMIC = "atomic"


class Access(NamedTuple):
    """A tl.load, tl.store or tl.atomic_* in a jit function."""

    kind: AccessKind
    targets: frozenset  # the pointer parameters it addresses
    address: frozenset  # Origins the address depends on (an index loaded through another parameter, ...)
    stored: frozenset  # Origins the stored value depends on (store and atomic)
    mask: int | None  # the guard site that is its mask, if any
    path: tuple  # Conditions it runs under
    order: int  # statement order in the function
    text: str


@dataclass
class HelperCall:
    callee: str
    args: list  # each: (value origins, pointer parameters, dependencies): an indexflow.Flow as a tuple
    kwargs: dict
    line: int
    path: tuple = ()  # Conditions the call runs under


@dataclass
class FunctionAnalysis:
    qualname: str
    params: list[str]
    sites: list[GuardSite] = field(default_factory=list)
    calls: list[HelperCall] = field(default_factory=list)
    returns: tuple = (frozenset(), frozenset(), frozenset())  # (values, pointers, dependencies) returned
    accesses: list = field(default_factory=list)  # Access
    stores_through: frozenset = frozenset()  # pointer parameters the function writes with tl.store / tl.atomic_*
    loads_through: frozenset = frozenset()  # pointer parameters it reads with tl.load, or hands to a helper


codec.register(AtomRef, AllOf, AnyOf, Negation, Opaque, GuardContext, Operand, Atom, Condition, GuardSite,
               AccessKind, Access, HelperCall, FunctionAnalysis)
