"""Conventions: which values of an index tensor mean "no slot" and which are real ids (plain data).

A convention is a set of invalid (padding) values plus the range of real ids (``real_min`` and up).  Values in
neither set never occur, so a guard may treat them either way (docs/semantics.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from . import codec


SYMBOL_BASE = 1 << 40  # symbolic sentinels (a bound kept by name) evaluate above every real id and every literal


def is_symbol(value: int) -> bool:
    return value >= SYMBOL_BASE


class ConventionSource(Enum):
    """Where a kernel parameter's convention comes from, in order of precedence."""

    CONFIG = "config"  # explicit settings: [tool.sentinel-lint], --sentinel, a chosen rule pack
    INFERRED = "inferred"  # traced from the padding the host code writes to the kernel parameter
    PROJECT = "project"  # no chain reaches it: the padding this project writes for that kind of tensor elsewhere
    PACK = "pack"  # nothing in the project says: the fallback rule pack's default


def real_ids_start(invalid, zero_reserved: bool = False) -> int:
    """Where real ids start when nothing says otherwise: at 0, above a padding 0 (padding with 0 means id 0 is never
    real); at 1 for a tensor kind known never to hold id 0.  A padding value far above every id ("one past the
    last", a size kept by name) bounds the real ids from above instead (``Convention.real_max``)."""
    start = max([v + 1 for v in invalid if v <= 0] + [0])
    return max(start, 1) if zero_reserved else start


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
    chain: tuple[Evidence, ...]
    names: tuple[str, ...] = ()  # the variable, parameter and field names the value passed through


@dataclass(frozen=True)
class Convention:
    invalid: frozenset[int]
    real_min: int
    name: str = ""  # the sentinel's name as the code spells it, e.g. NULL_BLOCK_ID
    source: ConventionSource = ConventionSource.PACK
    origin: str = ""  # pack name, config key, or producer location
    chains: tuple[tuple[Evidence, ...], ...] = field(default=(), compare=False)
    symbols: tuple[tuple[int, str], ...] = ()  # (value, name) of symbolic sentinels: a bound kept by name
    chain_values: tuple[int, ...] = field(default=(), compare=False)  # the padding value each chain carries
    by_name: bool = False  # every chain passes a field linked only by its name: which object it is, is a guess

    @property
    def assumed(self) -> bool:
        """Not evidence: a rule pack's default, the project's habit elsewhere, or chains through guessed fields.
        A finding on an assumed convention is reported as such, and its fix is unsafe."""
        return self.source in (ConventionSource.PACK, ConventionSource.PROJECT) or self.by_name

    def chains_for(self, values) -> tuple[tuple[Evidence, ...], ...]:
        """The chains that carry one of ``values`` first, then the others."""
        picked = [c for c, v in zip(self.chains, self.chain_values) if v in values]
        return tuple(picked + [c for c in self.chains if not any(c is p for p in picked)])

    @property
    def real_max(self) -> int | None:
        """Real ids stay below a padding value above them ("one past the last id"); None: no upper bound known."""
        above = [v for v in self.invalid if v > max(self.real_min, 0)]
        return min(above) if above else None

    def single(self, value: int) -> "Convention":
        """The convention had only ``value`` been written (one of several chains, each a guess)."""
        return replace(self, invalid=frozenset({value}), real_min=real_ids_start([value]))

    def symbol(self, value: int) -> str | None:
        return next((name for v, name in self.symbols if v == value), None)

    def describe_value(self, value: int) -> str:
        """`NULL_BLOCK_ID (0)` for the sentinel, ``num_experts`` for a symbolic one, a bare number otherwise."""
        symbol = self.symbol(value)
        if symbol is not None:
            return f"`{symbol}`"
        if self.name and len(self.invalid) == 1 and value in self.invalid:
            return f"{self.name} ({value})"
        return str(value)

    def summary(self) -> str:
        invalid = ", ".join(self.symbol(v) or str(v) for v in sorted(self.invalid))
        label = f"{self.name} " if self.name else ""
        upper = self.real_max
        bound = f" and < {self.symbol(upper) or upper}" if upper is not None else ""
        return f"{label}invalid {{{invalid}}}, real ids >= {self.real_min}{bound}"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "invalid": sorted(self.invalid),
            "real_min": self.real_min,
            "source": self.source.value,
            "origin": self.origin,
            "chains": [[e.to_json() for e in chain] for chain in self.chains],
            **({"symbols": {name: v for v, name in self.symbols}} if self.symbols else {}),
        }


@dataclass
class ParamConvention:
    """The convention one kernel parameter follows, and why."""

    path: str
    kernel: str
    param: str
    convention: Convention | None
    source: ConventionSource | None  # None: unknown (``reason`` says why)
    reason: str = ""
    mixed: list = field(default_factory=list)  # [(value, Reach), ...] when producers with different sentinels reach it
    launched_as: str = ""  # the index tensor name it is known by, where its own name is not one (``h0_indices``)

    @property
    def status(self) -> str:
        return self.source.value if self.source is not None else f"unknown: {self.reason}"


codec.register(ConventionSource, Evidence, Reach, Convention, ParamConvention)
