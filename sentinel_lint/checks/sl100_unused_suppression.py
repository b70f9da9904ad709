"""SL100: a suppression comment that no longer suppresses anything."""
from __future__ import annotations

from ..diagnostics import Diagnostic
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
their bare forms, that matched no diagnostic, like ruff's unused-noqa.  A code that did not run (not selected) is
not judged; an unknown code is reported.  A suppression that names SL100 itself is never reported.
"""
    why = """
A stale suppression hides the next real finding on that line: once the guard is fixed, the comment should go.
"""
    fix_safety = "No automatic fix: delete the comment (or the stale code in it) by hand."
    invalid = (Example(_STALE, "the guard was fixed; the suppression stayed", expect="nothing to suppress"),)
    valid = (Example(_USED, "the suppression still silences an SL001 finding"),)
    reviews_suppressions = True  # runs after the other rules' findings were matched with the suppressions

    def check_suppressions(self, path: str, suppressions, ran: set[str], known: set[str]):
        """One finding for each suppression (or code in one) that silenced nothing; ``ran``: the codes that ran,
        ``known``: every rule code."""
        for sup in suppressions:
            if self.code in sup.codes:
                continue  # it names SL100 itself: the author asked not to be told it is unused
            what = self._unused(sup, ran, known)
            if what is None:
                continue
            silencer = next((s for s in suppressions if s is not sup and s.covers(self.code)
                             and (s.file_level or s.covers_lines(sup.line, sup.line))), None)
            if silencer is not None:
                silencer.used.add(self.code)
                continue
            scope = "file-level suppression" if sup.file_level else "suppression"
            yield Diagnostic(path, sup.line, sup.col, self.code, f"unused {scope} ({what}): nothing to suppress",
                             unfixable_reason="delete the comment, or the stale codes in it, by hand")

    def _unused(self, sup, ran: set[str], known: set[str]) -> str | None:
        if not sup.codes:
            return None if sup.used or not (ran - {self.code}) else "all codes"
        unknown = sorted(c for c in sup.codes if c not in known)
        unused = sorted(c for c in sup.codes - sup.used if c in known and c in ran)
        parts = [", ".join(unused)] if unused else []
        if unknown:
            parts.append(f"unknown rule code{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
        return "; ".join(parts) or None
