"""Reference Triton kernels guarded against the NULL_BLOCK_ID padding sentinel.

Serving engines pad state-index tensors (CUDA-graph batches) with
NULL_BLOCK_ID, a block no real sequence is ever given.  Each kernel here
skips padding rows before touching the state pool and writes zeros to their
outputs; each comes with a host launcher and a plain-PyTorch oracle (``*_ref``).

Importing this package is cheap: triton and torch are imported only when a
launcher or oracle is first looked up (module ``__getattr__``), so the linter
never pays for them.
"""

import importlib

NULL_BLOCK_ID = 0

# kernel module (file name without .py) -> public names it defines
KERNEL_MODULES = {
    "gated_delta_rule": (
        "fused_recurrent_gated_delta_rule",
        "fused_recurrent_gated_delta_rule_ref",
        "packed_decode_gated_delta_rule",
        "packed_decode_gated_delta_rule_ref",
    ),
    "sigmoid_gating": (
        "fused_sigmoid_gating_delta_rule_update",
        "fused_sigmoid_gating_delta_rule_update_ref",
    ),
    "selective_state_update": (
        # not "selective_state_update": that name is the submodule's, which the import
        # system binds on this package once the submodule is loaded
        "selective_state_update_fwd",
        "selective_state_update_ref",
    ),
}

_OWNER = {name: module for module, names in KERNEL_MODULES.items() for name in names}

__all__ = [  # noqa: RUF022  (grouped by module, as in KERNEL_MODULES)
    "NULL_BLOCK_ID",
    "KERNEL_MODULES",
    "fused_recurrent_gated_delta_rule",
    "fused_recurrent_gated_delta_rule_ref",
    "packed_decode_gated_delta_rule",
    "packed_decode_gated_delta_rule_ref",
    "fused_sigmoid_gating_delta_rule_update",
    "fused_sigmoid_gating_delta_rule_update_ref",
    "selective_state_update_fwd",
    "selective_state_update_ref",
]


def __getattr__(name):
    module = _OWNER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__():
    return sorted(set(globals()) | set(_OWNER))
