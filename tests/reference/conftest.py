"""Run the reference kernels on Triton's CPU interpreter.

Triton picks interpreter vs. compiler when ``@triton.jit`` runs, so the variable must be set
before any kernel module is imported; the tests also load every kernel file by path with the
interpreter pinned (``scenarios.load_kernel_module(..., interpret=True)``), so a kernel module
imported earlier in the session cannot change the mode.  A missing triton fails collection here
(ImportError) instead of skipping.
"""

import os

os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: F401
import triton  # noqa: F401  (fail loudly, never skip, when triton is absent)
