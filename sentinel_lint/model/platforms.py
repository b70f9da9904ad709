"""Which accelerator a module is written for, read from its path.

Serving engines keep host code per accelerator (``hardware_backend/npu/``, ``*_hip.py``, ``xpu_backend.py``,
``models/x/amd/``) beside the generic code that most kernels serve, and each backend may pad the same metadata field
its own way (SGLang's Ascend backend pads Mamba indices with 0, its CUDA backend with -1).  Padding written for one
accelerator says nothing about a kernel written for another, and is weaker evidence than generic host code for a
kernel that every backend shares.
"""
from __future__ import annotations

import re

# Path tokens that name one accelerator family.  "cuda" is not one: it names the default path (cuda_graph_runner).
_TOKENS = {
    "npu": "ascend", "ascend": "ascend",
    "hip": "rocm", "rocm": "rocm", "amd": "rocm", "aiter": "rocm",
    "nvidia": "nvidia",
    "xpu": "xpu",
    "musa": "musa",
    "mlu": "mlu",
    "tpu": "tpu",
    "hpu": "hpu", "gaudi": "hpu", "habana": "hpu",
    "neuron": "neuron",
    "cpu": "cpu",
}
_SPLIT = re.compile(r"[/\\_.\-]+")


def platform_of(path: str) -> str | None:
    """The accelerator family a module path is specific to, or None for generic code (first token wins)."""
    for token in _SPLIT.split(path.lower()):
        family = _TOKENS.get(token)
        if family is not None:
            return family
    return None


def platform_distance(producer_path: str, kernel_path: str) -> int | None:
    """How far padding written at ``producer_path`` is from a kernel at ``kernel_path``: 0 for the same accelerator
    or generic host code, 1 for accelerator-specific host code reaching a generic kernel, None where it cannot reach
    (host code for one accelerator, a kernel written for another)."""
    producer = platform_of(producer_path)
    if producer is None:
        return 0
    kernel = platform_of(kernel_path)
    if kernel is None:
        return 1
    return 0 if kernel == producer else None
