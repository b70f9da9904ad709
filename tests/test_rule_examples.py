"""Every rule's examples are tests (sentinel_lint.testing): flagged ones with their message, span, fixed text, fix
safety and a re-lint of the fixed text; valid ones stay silent."""
from __future__ import annotations

import pytest

from sentinel_lint.checks import RULES
from sentinel_lint.testing import check_example

EXAMPLES = [
    pytest.param(rule, example, kind == "invalid", id=f"{code}-{kind}-{i}")
    for code, rule in sorted(RULES.items())
    for kind, examples in (("invalid", rule.invalid), ("valid", rule.valid))
    for i, example in enumerate(examples)
]


@pytest.mark.parametrize("rule, example, flagged", EXAMPLES)
def test_rule_example(rule, example, flagged):
    check_example(rule, example, flagged)


def test_some_example_documents_an_unsafe_fix():
    """The harness must see both kinds of fix: one applied by a plain `fix`, one only with --unsafe-fixes."""
    fixes = [e for rule in RULES.values() for e in rule.invalid if e.fixed is not None]
    assert any(e.safe for e in fixes) and any(not e.safe for e in fixes)
