"""Run the reference kernels on Triton's CPU interpreter.

Triton fixes interpreter-vs-compiler for its own library when it is first imported, so the
variable is set here, before triton is imported; if something imported triton earlier in the
session in compile mode, collection fails with a clear message instead of running mixed modes.
A missing triton fails collection too (ImportError) instead of skipping.
"""

import os

os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: F401
import triton  # noqa: F401  (fail loudly, never skip, when triton is absent)

from sentinel_reference.scenarios import triton_interpreting

if not triton_interpreting():
    raise RuntimeError(
        "triton was imported before tests/reference/conftest.py could set TRITON_INTERPRET=1; "
        "run `TRITON_INTERPRET=1 pytest ...` or run tests/reference in its own pytest process"
    )
