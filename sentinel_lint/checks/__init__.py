"""The rules, one module each.  ``RULES`` maps a code to its rule instance."""
from __future__ import annotations

from .base import CheckContext, Example, Rule
from .sl001_guard_mismatch import GuardMismatch
from .sl003_mixed_padding import MixedPadding
from .sl100_unused_suppression import UnusedSuppression

RULES: dict[str, Rule] = {rule.code: rule for rule in (GuardMismatch(), MixedPadding(), UnusedSuppression())}

__all__ = ["RULES", "Rule", "Example", "CheckContext"]
