"""SL003: producers with different sentinels reach one kernel parameter."""
from __future__ import annotations

from ..diagnostics import Diagnostic
from ..model.ids import ParamId
from .base import CheckContext, Example, Rule

_MIXED = '''
import torch
import triton
import triton.language as tl

PAD_SLOT_ID = -1
NULL_BLOCK_ID = 0


@triton.jit
def step_kernel(state, state_indices, D: tl.constexpr):
    i = tl.program_id(0)
    idx = tl.load(state_indices + i)
    if idx <= 0:
        return
    offs = tl.arange(0, D)
    tl.store(state + idx * D + offs, tl.zeros([D], dtype=tl.float32))


def decode(state, state_indices, n):
    state_indices[n:].fill_(NULL_BLOCK_ID)
    step_kernel[(state_indices.numel(),)](state, state_indices, D=16)


def prefill(state, n, batch):
    state_indices = torch.full((batch,), PAD_SLOT_ID, dtype=torch.int32)
    step_kernel[(batch,)](state, state_indices, D=16)
'''

_ONE = _MIXED.replace("torch.full((batch,), PAD_SLOT_ID,", "torch.full((batch,), NULL_BLOCK_ID,")


class MixedPadding(Rule):
    code = "SL003"
    name = "mixed-padding-conventions"
    summary = "Producers that pad with different sentinels reach one kernel parameter."
    what = """
Follows every place that writes padding into an index tensor (`fill_`, slice assignment, `torch.full`,
`full_like`, `new_full`, `torch.where`, `F.pad`) through fields, wrappers and launches to the kernel parameter it
reaches, and reports a parameter that receives padding with different values, with one chain for each.
"""
    why = """
One kernel can only have one guard.  If one producer pads with -1 and another with 0, the guard must reject both,
and the next change to either producer silently breaks the other path: this is how a padding switch (vLLM PR
#35431) leaves kernels half-migrated.
"""
    fix_safety = "No automatic fix: decide which sentinel the tensor uses and change the other producer."
    invalid = (Example(_MIXED, "decode pads with 0, prefill with -1",
                       expect="kernel parameter `state_indices` receives padding with different sentinels"),)
    valid = (Example(_ONE, "both producers pad with NULL_BLOCK_ID"),)

    def check(self, ctx: CheckContext):
        resolver = ctx.resolver
        module = ctx.module
        for fn in module.kernels:
            for param in fn.params:
                pc = resolver.param_convention(ParamId(module.module, fn.qualname, param))
                if not pc.mixed:
                    continue
                parts = []
                related = []
                for value, reach in pc.mixed:
                    producer = reach.chain[0]
                    label = f"{reach.name} ({value})" if reach.name else str(value)
                    parts.append(f"{label} at {producer.path}:{producer.line}")
                    related += [e for e in reach.chain if e.path]
                message = (f"kernel parameter `{param}` receives padding with different sentinels: "
                           + "; ".join(parts) + "; its guards must reject all of them")
                yield Diagnostic(module.path, fn.line, fn.col, self.code, message, convention=pc.convention,
                                 related=related, unfixable_reason="choose one sentinel for this tensor")
