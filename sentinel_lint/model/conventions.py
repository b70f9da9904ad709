"""Conventions: which values of an index tensor mean "no slot" and which are real ids.

A convention is a set of invalid (padding) values plus the range of real ids (``real_min`` and up).  Values in
neither set never occur, so a guard may treat them either way.  See DESIGN.md §1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import codec


@dataclass(frozen=True)
class Evidence:
    """One link of the chain that explains why a convention applies: where, what, and whether linked by name."""

    path: str
    line: int
    what: str
    by_name: bool = False

    def to_json(self) -> dict:
        return {"path": self.path, "line": self.line, "what": self.what, "by_name": self.by_name}


@dataclass(frozen=True)
class Reach:
    """One producer reaching one kernel parameter."""

    value: int
    name: str  # constant name as written at the producer (e.g. NULL_BLOCK_ID), "" for a literal
    kind: str  # "pad" or "value"
    chain: tuple[Evidence, ...]
    names: tuple[str, ...] = ()  # the variable, parameter and field names the value passed through


@dataclass(frozen=True)
class Convention:
    invalid: frozenset[int]
    real_min: int
    name: str = ""  # the sentinel's name as the code spells it, e.g. NULL_BLOCK_ID
    source: str = "pack"  # "config", "inferred" or "pack"
    origin: str = ""  # pack name, config key, or producer location
    chains: tuple[tuple[Evidence, ...], ...] = field(default=(), compare=False)

    def describe_value(self, value: int) -> str:
        """`NULL_BLOCK_ID (0)` for the sentinel, a bare number otherwise."""
        if self.name and len(self.invalid) == 1 and value in self.invalid:
            return f"{self.name} ({value})"
        return str(value)

    def summary(self) -> str:
        invalid = ", ".join(str(v) for v in sorted(self.invalid))
        label = f"{self.name} " if self.name else ""
        return f"{label}invalid {{{invalid}}}, real ids >= {self.real_min}"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "invalid": sorted(self.invalid),
            "real_min": self.real_min,
            "source": self.source,
            "origin": self.origin,
            "chains": [[e.to_json() for e in chain] for chain in self.chains],
        }


@dataclass
class ParamConvention:
    """The convention one kernel parameter follows, and why (kept with the other plain data: a cached run's
    result holds these, and reading it back must not need the analysis modules)."""

    path: str
    kernel: str
    param: str
    convention: Convention | None
    status: str  # why: "config", "inferred", "pack", "project", or "unknown: ..."
    mixed: list  # [(value, Reach), ...] when producers with different sentinels reach this parameter
    launched_as: str = ""  # the index tensor name it is known by, where its own name is not one (``h0_indices``)


def convention_for(values: set[int] | frozenset[int], name: str = "", *, zero_reserved: bool = False, **kw) -> Convention:
    """The convention implied by padding with ``values``: real ids start above every non-negative sentinel.

    Padding with 0 means block 0 is never real (real ids >= 1); padding with -1 leaves 0 real unless the table is
    known to reserve block 0 (``zero_reserved``).
    """
    highest = max(values)
    real_min = max(highest + 1, 0)
    if zero_reserved:
        real_min = max(real_min, 1)
    return Convention(invalid=frozenset(values), real_min=real_min, name=name, **kw)


codec.register(Evidence, Reach, Convention, ParamConvention)
