"""SL001: a guard on a block/state index disagrees with the padding its tensor really gets."""
from __future__ import annotations

from pathlib import Path

from ..config import not_an_index_name
from ..diagnostics import Diagnostic, Edit, Fix
from ..conventions import Convention, ConventionSource
from ..model.ids import FunctionId
from ..model.guards import IndexAtom, find_fix, flip, judge
from .base import CheckContext, Example, Rule  # noqa: F401

_NULL_BLOCK_BUG = '''
import triton
import triton.language as tl

NULL_BLOCK_ID = 0


@triton.jit
def decode_kernel(state, ssm_state_indices, out, D: tl.constexpr):
    i = tl.program_id(0)
    state_idx = tl.load(ssm_state_indices + i).to(tl.int64)
    if state_idx < 0:  # written for PAD_SLOT_ID = -1; block tables now pad with 0
        return
    offs = tl.arange(0, D)
    tl.store(state + state_idx * D + offs, tl.load(out + i * D + offs))


def decode(state, ssm_state_indices, out, num_reqs):
    ssm_state_indices[num_reqs:].fill_(NULL_BLOCK_ID)  # CUDA-graph padding rows
    decode_kernel[(ssm_state_indices.numel(),)](state, ssm_state_indices, out, D=64)
'''

_NULL_BLOCK_FIXED = _NULL_BLOCK_BUG.replace("if state_idx < 0:", "if state_idx <= 0:")

_STORE_BUG = '''
import triton
import triton.language as tl


@triton.jit
def store_kernel(ht, block_table, x, D: tl.constexpr):
    i = tl.program_id(0)
    slot = tl.load(block_table + i)
    offs = tl.arange(0, D)
    tl.store(ht + slot * D + offs, tl.load(x + i * D + offs), mask=(offs < D) & (slot >= 0))
'''

_PAD_SLOT_OK = '''
import triton
import triton.language as tl


@triton.jit
def write_kv(cache, slot_mapping, kv, D: tl.constexpr):
    i = tl.program_id(0)
    slot = tl.load(slot_mapping + i)
    if slot == -1:  # slot mappings keep PAD_SLOT_ID = -1; slot 0 is a real slot
        return
    offs = tl.arange(0, D)
    tl.store(cache + slot * D + offs, tl.load(kv + i * D + offs))
'''

_MIXED_BUG = '''
import torch
import triton
import triton.language as tl


@triton.jit
def step_kernel(state, state_indices, D: tl.constexpr):
    i = tl.program_id(0)
    idx = tl.load(state_indices + i)
    if idx < 0:
        return
    offs = tl.arange(0, D)
    tl.store(state + idx * D + offs, tl.zeros([D], dtype=tl.float32))


def decode(state, state_indices, n):
    state_indices[n:].fill_(0)
    step_kernel[(state_indices.numel(),)](state, state_indices, D=16)


def prefill(state, n, batch):
    state_indices = torch.full((batch,), -1, dtype=torch.int32)
    step_kernel[(batch,)](state, state_indices, D=16)
'''

_BOUNDS_OK = '''
import triton
import triton.language as tl


@triton.jit
def gather(out, block_tables, pool, num_blocks, D: tl.constexpr):
    i = tl.program_id(0)
    blk = tl.load(block_tables + i)
    offs = tl.arange(0, D)
    ok = (blk > 0) & (blk < num_blocks)  # the bound is not a sentinel: only `blk > 0` is judged
    tl.store(out + i * D + offs, tl.load(pool + blk * D + offs, mask=ok), mask=ok)
'''




def sentinel_window(conv: Convention, const: int) -> bool:
    """A sentinel guard compares with a constant at the border between padding and real ids (``< 0``, ``<= 0``,
    ``== -1``, ``< 1``); a constant far above it is a bound (``blk > 4096``) and rewriting it would be wrong."""
    return min(conv.invalid) - 1 <= const <= max(conv.real_min, max(conv.invalid) + 1) + 1


class GuardMismatch(Rule):
    code = "SL001"
    name = "sentinel-guard-mismatch"
    summary = "A guard on a block-table or state index disagrees with the padding its tensor gets."
    what = """
Finds comparisons on values loaded from block tables, state-index and slot tensors inside Triton kernels (`if`,
early `return`, `tl.where`, `mask=`, `and`/`or`/`&`/`|`, either operand order) and checks them against the
tensor's convention: the padding values the host code writes (read from the code, set in `[tool.sentinel-lint]`,
or the rule pack's default) and the range of real ids.  A guard is right when it gives every padding value one
answer and every real id the other.
"""
    why = """
Serving engines pad index tensors so batches fit a captured CUDA graph.  When the padding changes (vLLM moved block
tables and Mamba/GDN state indices from PAD_SLOT_ID = -1 to NULL_BLOCK_ID = 0), a guard written for the old value
lets padding rows through as real: the kernel reads and writes the reserved block, corrupting state under load.
compute-sanitizer cannot see it (the write stays inside the allocation); only a check of the guard can.
"""
    fix_safety = """
The fix changes one operator (`< 0` → `<= 0`, `>= 0` → `> 0`, `0 > idx` → `0 >= idx`) or one literal constant
(`== -1` → `== 0`), keeping the guard's polarity, so padding rows take the branch they were meant to take.  Evidence
decides its safety.  It is marked safe, and `sentinel-lint fix` applies it, when the convention is set explicitly
(`[tool.sentinel-lint]`, `--rule-pack`, `--sentinel`) or traced from the host code that writes one padding value to
this kernel parameter through typed values.  It is marked unsafe, applied only with `--unsafe-fixes`, when the
convention is assumed (the rule pack's default where nothing pads this tensor, the padding the project writes for
this kind of tensor elsewhere, or padding that reaches the kernel only through fields linked by their name), and
when producers pad the tensor with different values: a person must pick the sentinel.  The message says
"assumed" where it is.  Guards against named constants, or that no single change can repair, are reported without
a fix.
"""
    invalid = (
        Example(_NULL_BLOCK_BUG, "block 0 is the reserved null block: `< 0` lets it through",
                expect="lets NULL_BLOCK_ID (0) through", span="state_idx < 0", fixed=_NULL_BLOCK_FIXED),
        Example(_STORE_BUG, "no host code here: the rule pack's convention is assumed, so the fix is unsafe",
                expect="assumed: rule pack null-block-id", span="slot >= 0",
                fixed=_STORE_BUG.replace("(slot >= 0)", "(slot > 0)"), safe=False),
        Example(_MIXED_BUG, "padded with 0 here and -1 there: the fix is unsafe, a person picks the sentinel",
                expect="lets 0 through", span="idx < 0", fixed=_MIXED_BUG.replace("if idx < 0:", "if idx <= 0:"),
                safe=False),
    )
    valid = (
        Example(_NULL_BLOCK_FIXED, "`<= 0` rejects the null block and keeps every real id"),
        Example(_PAD_SLOT_OK, "slot mappings pad with -1 and slot 0 is real: `== -1` is right"),
        Example(_BOUNDS_OK, "only the constant atom of a bounds check is judged"),
    )

    def check(self, ctx: CheckContext):
        resolver = ctx.resolver
        module = ctx.module
        for qualname, analysis in ctx.analyses.items():
            fn_key = FunctionId(module.module, qualname)
            for site in analysis.sites:
                yield from self._check_site(ctx, fn_key, site, resolver)

    def _check_site(self, ctx, fn_key, site, resolver):
        # Which atoms compare an index with a constant, grouped by the tensors the index came from.
        groups: dict[frozenset, dict[int, IndexAtom]] = {}
        convs: dict[frozenset, Convention] = {}
        for i, atom in enumerate(site.atoms):
            for index_side, const_side, swapped in ((atom.left, atom.right, False), (atom.right, atom.left, True)):
                if not_an_index_name(index_side.text):
                    continue  # `chunk_offset == 0`, `seq_len > 0`: a count or offset, whatever it was loaded from
                roots = set()
                for origin in index_side.origins:  # loads here, or parameters a calling kernel loaded
                    roots |= resolver.roots(fn_key, origin)
                if not roots:
                    continue
                conv = resolver.convention_for_roots(roots)
                if conv is None:
                    continue
                const = resolver.constant(fn_key, const_side, conv)
                if const is None:
                    continue
                if not sentinel_window(conv, const.value):
                    break  # `blk > 4096`: a literal bound far from the padding, not a sentinel comparison
                op = flip(atom.op) if swapped else atom.op
                key = frozenset(roots)
                groups.setdefault(key, {})[i] = IndexAtom(op, const.value, swapped, isinstance(const_side.const, int))
                convs[key] = conv
                break
        for key, atoms in groups.items():
            conv = convs[key]
            verdict = judge(site.pred, atoms, conv)
            if verdict is None or verdict.ok:
                continue
            if conv.by_name and len(conv.invalid) > 1 and any(
                    (v := judge(site.pred, atoms, conv.single(value))) is not None and v.ok for value in conv.invalid):
                continue  # reached only through guessed fields, and right for one of the guesses: not evidence
            yield self._diagnostic(ctx, site, atoms, conv, verdict, key)

    def _diagnostic(self, ctx, site, atoms, conv, verdict, roots) -> Diagnostic:
        fix = find_fix(site.pred, atoms, conv, verdict)
        target = fix.atom if fix is not None else self._culprit(site.pred, atoms, conv)
        atom_src = site.atoms[target]
        shown = f"{atom_src.left.text} {atom_src.op} {atom_src.right.text}"
        if verdict.slips:
            values = ", ".join(conv.describe_value(v) for v in verdict.slips)
            problem = f"`{shown}` lets {values} through as a real slot"
        else:
            values = ", ".join(str(r) for r in verdict.rejects[:3])
            problem = f"`{shown}` rejects real id {values} as padding"
        problem += self._where(conv, roots, ctx, verdict.slips)
        positions = ctx.positions
        def_line = ctx.def_line(site.function)
        spans = (positions.atom(def_line, atom_src.cmp_index, atom_src.pair, atom_src.left.text, atom_src.right.text)
                 if positions else None)
        edits, unfixable = (), ""
        if fix is not None and spans is not None:
            old = atoms[fix.atom]
            edits = self._edits(positions, spans, old, fix)
            const_text = str(fix.const)
            left, right = atom_src.left.text, atom_src.right.text
            if fix.const != old.const:
                if old.swapped:
                    left = const_text
                else:
                    right = const_text
            message = f"{problem}; use `{left} {old.source_op(fix.op)} {right}`"
        else:
            if fix is not None:
                unfixable = "the guard could not be located in the source"
            elif any(not a.const_literal for a in atoms.values()):
                unfixable = "the constant is a name; change it by hand"
            else:
                unfixable = "no single operator or constant change fixes this guard; review it by hand"
            message = f"{problem}; {unfixable}"
        # Evidence decides safety: an assumed convention (a pack's default, the project's habit, fields linked by
        # name) or mixed padding (a human picks the sentinel) gets a fix applied only with --unsafe-fixes.
        safe = not conv.assumed and (len(conv.invalid) == 1 or conv.source is not ConventionSource.INFERRED)
        related = [e for chain in conv.chains_for(verdict.slips)[:2] for e in chain if e.path]  # (by-name hops: none)
        start = spans.left if spans else None
        end = spans.right if spans else None
        return Diagnostic(
            path=ctx.module.path, line=start.line if start else def_line, col=start.col if start else 0,
            end_line=end.end_line if end else 0, end_col=end.end_col if end else 0,
            code=self.code, message=message,
            fix=Fix(edits, safe, "change the guard to the form the convention requires") if edits else None,
            unfixable_reason=unfixable, convention=conv, related=related,
        )

    @staticmethod
    def _culprit(pred, atoms, conv) -> int:
        """The atom to point at when no single edit repairs the guard: the one whose removal leaves it right (in
        `(slot >= 0) & (slot != NULL_BLOCK_ID)` that is the named comparison), else the first."""
        for index in sorted(atoms):
            rest = {i: a for i, a in atoms.items() if i != index}
            verdict = judge(pred, rest, conv) if rest else None
            if verdict is not None and verdict.ok:
                return index
        return min(atoms)

    @staticmethod
    def _where(conv: Convention, roots, ctx, values=()) -> str:
        if conv.source is ConventionSource.INFERRED and conv.chains:
            producer = conv.chains_for(values)[0][0]  # where the value the guard mishandles is written
            guessed = " (assumed: it reaches this kernel only through fields linked by their name)" \
                if conv.by_name else ""
            return f", written at {producer.path}:{producer.line}{guessed}"
        params = ", ".join(sorted({r.name for r in roots}))
        if conv.source is ConventionSource.CONFIG:
            origin = conv.origin
            try:
                origin = str(Path(origin).resolve().relative_to(ctx.settings.root.resolve()))
            except (ValueError, OSError):
                pass
            return f" (convention for `{params}` set in {origin})"
        if conv.source is ConventionSource.PROJECT:
            return f" (assumed for `{params}`: {conv.origin})"
        return f" (assumed: {conv.origin} for `{params}`)"

    @staticmethod
    def _edits(positions, spans, old: IndexAtom, fix) -> tuple[Edit, ...]:
        """One edit over the whole comparison (``left op right``), replacing only the operator and/or the literal:
        the span's original text lets the fixer check that the comparison is still the one analysed (an operator
        alone, ``<``, would still match after ``<=`` was written)."""
        original = positions.source(spans.left, spans.right)
        base = positions.offset(spans.left.line, spans.left.col)
        changes = []
        if fix.op != old.op:
            changes.append((spans.op, old.source_op(fix.op)))
        if fix.const != old.const:
            changes.append((spans.left if old.swapped else spans.right, str(fix.const)))
        text = original
        for span, new in sorted(changes, key=lambda c: (c[0].line, c[0].col), reverse=True):
            start = positions.offset(span.line, span.col) - base
            end = positions.offset(span.end_line, span.end_col) - base
            text = text[:start] + new + text[end:]
        left, right = spans.left, spans.right
        return (Edit(left.line, left.col, right.end_line, right.end_col, text, original),)
