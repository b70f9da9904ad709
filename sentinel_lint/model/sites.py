"""What the index flow records about a kernel: guard sites, helper calls, return origins (plain, picklable data).

Kept apart from ``indexflow`` so that reading cached results needs no libcst import.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import codec

Origins = frozenset  # of ("load", param) | ("param", name)


@dataclass
class Operand:
    origins: set  # value origins
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
    pred: tuple  # ("atom", i) | ("and", (...)) | ("or", (...)) | ("not", p) | ("unknown",)
    atoms: list[Atom]
    text: str
    context: str  # if / while / where / mask / assign / return / expr


@dataclass
class HelperCall:
    callee: str
    args: list  # each: (value origins, pointer params)
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


codec.register(Operand, Atom, GuardSite, HelperCall, FunctionAnalysis)
