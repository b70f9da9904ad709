"""SL100: a suppression comment that no longer suppresses anything."""
from __future__ import annotations

from .base import Example, Rule

_STALE = '''
import triton
import triton.language as tl


@triton.jit
def k(state, ssm_state_indices):
    idx = tl.load(ssm_state_indices + tl.program_id(0))
    if idx <= 0:  # sentinel-lint: ignore[SL001] kept from before the fix
        return
    tl.store(state + idx, 1.0)
'''

_USED = _STALE.replace("if idx <= 0:", "if idx < 0:")


class UnusedSuppression(Rule):
    code = "SL100"
    name = "unused-suppression"
    summary = "A `# sentinel-lint: ignore[...]` comment that suppresses nothing."
    what = """
Reports `# sentinel-lint: ignore[CODE]` (line) and `# sentinel-lint: ignore-file[CODE]` (file) comments, and
their bare forms, that matched no diagnostic, like ruff's unused-noqa.
"""
    why = """
A stale suppression hides the next real finding on that line: once the guard is fixed, the comment should go.
"""
    fix_safety = "No automatic fix: delete the comment (or the stale code in it) by hand."
    invalid = (Example(_STALE, "the guard was fixed; the suppression stayed"),)
    valid = (Example(_USED, "the suppression still silences an SL001 finding"),)

    def check(self, ctx):  # suppressions are matched after every other rule ran: see suppressions.py
        return ()
