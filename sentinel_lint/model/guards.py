"""Guard semantics: does a predicate over an index split padding from real ids?  (DESIGN.md §1)

A guard P is consistent with a convention iff P is constant on the invalid values, constant on the real ids, and
the two constants differ.  P only changes value at its constants, so evaluating it at every invalid value, at the
smallest real id and at each constant c-1, c, c+1 among the real ids decides it exactly.  No polarity is needed:
the same test holds for skip branches, valid branches, masks and ``tl.where``.

Atoms that do not compare the index with a constant (bounds checks like ``idx < num_blocks``, other variables) are
neutral: ``and``/``or`` ignore them, so in ``(idx >= 0) & (idx < n)`` only ``idx >= 0`` is judged.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..conventions import Convention, is_symbol
from .sites import AllOf, AnyOf, AtomRef, Negation, Predicate

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_CMP = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
# Operators that keep a guard's polarity while moving its boundary by one: the minimal fixes.
_NEIGHBOUR = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "<=", "!=": ">"}


@dataclass(frozen=True)
class IndexAtom:
    """``index OP const`` with the index on the left, whatever the source order."""

    op: str
    const: int
    swapped: bool  # the source writes ``const OP' index``
    const_literal: bool  # the constant is written as a literal (so a fix may change it)

    def source_op(self, op: str | None = None) -> str:
        op = op or self.op
        return _FLIP[op] if self.swapped else op


def flip(op: str) -> str:
    return _FLIP[op]


def evaluate(pred: Predicate, atoms: dict[int, IndexAtom], x: int):
    """True/False, or None where the predicate does not depend on the index at all."""
    if isinstance(pred, AtomRef):
        atom = atoms.get(pred.index)
        return None if atom is None else _CMP[atom.op](x, atom.const)
    if isinstance(pred, (AllOf, AnyOf)):
        values = [evaluate(p, atoms, x) for p in pred.parts]
        values = [v for v in values if v is not None]
        if not values:
            return None
        return all(values) if isinstance(pred, AllOf) else any(values)
    if isinstance(pred, Negation):
        inner = evaluate(pred.inner, atoms, x)
        return None if inner is None else not inner
    return None


@dataclass(frozen=True)
class Verdict:
    real_side: bool  # the value P gives real ids (its polarity)
    slips: tuple[int, ...]  # padding values P treats like a real id
    rejects: tuple[int, ...]  # real ids P treats like padding

    @property
    def ok(self) -> bool:
        return not self.slips and not self.rejects


def _points(atoms: dict[int, IndexAtom], conv: Convention) -> tuple[list[int], int]:
    """The real ids worth evaluating the guard at (where its answer can change), and a typical real id: one above
    every constant the guard compares with (below the real ids' upper bound, where there is one)."""
    consts = [a.const for a in atoms.values()]
    upper = conv.real_max
    real = {conv.real_min, conv.real_min + 1}
    for c in consts:
        real |= {c - 1, c, c + 1}
    if upper is None:
        typical = max(consts + [conv.real_min]) + 2
    else:
        real |= {upper - 1, upper - 2}
        typical = min(max([c for c in consts if c < upper - 1] + [conv.real_min]) + 1, upper - 1)
    return sorted(r for r in real if r >= conv.real_min and (upper is None or r < upper)), typical


def judge(pred: Predicate, atoms: dict[int, IndexAtom], conv: Convention) -> Verdict | None:
    if not atoms:
        return None
    real_points, big = _points(atoms, conv)
    real_side = evaluate(pred, atoms, big)
    if real_side is None:
        return None
    slips = tuple(v for v in sorted(conv.invalid) if evaluate(pred, atoms, v) == real_side)
    rejects = tuple(r for r in real_points if evaluate(pred, atoms, r) != real_side)
    return Verdict(real_side, slips, rejects)


@dataclass(frozen=True)
class AtomFix:
    atom: int
    op: str  # new operator, index on the left
    const: int

    def changes_op(self, old: IndexAtom) -> bool:
        return self.op != old.op

    def changes_const(self, old: IndexAtom) -> bool:
        return self.const != old.const


def find_fix(pred: Predicate, atoms: dict[int, IndexAtom], conv: Convention, verdict: Verdict) -> AtomFix | None:
    """The smallest single-atom change that makes the guard consistent and keeps its polarity.

    Prefers changing the operator only (``< 0`` → ``<= 0``), then the constant only (``== -1`` → ``== 0``), then
    both.  A named constant is never rewritten (that needs an import or a new name: a human's call).  Returns None
    where no single change works: the guard's meaning is then too unclear to guess.
    """
    candidates: list[tuple[int, int, AtomFix]] = []
    for order, (index, atom) in enumerate(sorted(atoms.items())):
        consts = {atom.const, atom.const - 1, atom.const + 1, *conv.invalid, max(conv.invalid), conv.real_min,
                  conv.real_min - 1}
        for op in (atom.op, _NEIGHBOUR[atom.op]):
            for const in sorted(consts):
                if op == atom.op and const == atom.const:
                    continue
                if const != atom.const and (not atom.const_literal or is_symbol(const)):
                    continue  # a name is not rewritten, nor written as a number where a symbol is meant
                cost = (op != atom.op) + 2 * (const != atom.const)
                candidates.append((cost, order, AtomFix(index, op, const)))
    candidates.sort(key=lambda c: (c[0], c[1], abs(c[2].const - atoms[c[2].atom].const)))
    for _, _, fix in candidates:
        trial = dict(atoms)
        old = atoms[fix.atom]
        trial[fix.atom] = IndexAtom(fix.op, fix.const, old.swapped, old.const_literal)
        result = judge(pred, trial, conv)
        if result is not None and result.ok and result.real_side == verdict.real_side:
            return fix
    return None
