"""The rules, one module each: its documentation, examples, logic and fix.  ``RULES`` is the one registry: the
configuration validates codes against it, the reports document it, the test harness runs its examples."""
from __future__ import annotations

from .base import CheckContext, Example, Rule
from .sl001_guard_mismatch import GuardMismatch
from .sl003_mixed_padding import MixedPadding
from .sl100_unused_suppression import UnusedSuppression

RULES: dict[str, Rule] = {rule.code: rule for rule in (GuardMismatch(), MixedPadding(), UnusedSuppression())}
ALL_CODES: tuple[str, ...] = tuple(sorted(RULES))

__all__ = ["RULES", "ALL_CODES", "Rule", "Example", "CheckContext"]
