"""Bounded fuzzing in CI: generated kernels (valid, and mutated into every kind of broken) never crash a run, and
`fix` changes only guard tokens, re-parses and is idempotent.  benchmarks/fuzz.py runs the same for longer."""
from __future__ import annotations

import ast
import random

from fuzzgen import host, module, mutate
from helpers import only_guard_tokens_changed

from sentinel_lint import api
from sentinel_lint.config import load_settings

PACKAGES = 40


def _tree(root, texts):
    (root / "pyproject.toml").write_text("[project]\nname = 'fuzz'\nversion = '0'\n", encoding="utf-8")
    for i, (kern, launcher) in enumerate(texts):
        pkg = root / f"p{i}"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("", encoding="utf-8")
        (pkg / "kern.py").write_text(kern, encoding="utf-8")
        (pkg / "host.py").write_text(launcher, encoding="utf-8")


def test_fix_on_generated_kernels_changes_only_guards_and_is_idempotent(tmp_path):
    rng = random.Random(20261204)
    _tree(tmp_path, [(module(rng), host(rng)) for _ in range(PACKAGES)])
    before = {p: p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.py")}
    settings = load_settings([tmp_path])
    result = api.fix([tmp_path], settings, unsafe=True, jobs=1)
    assert not result.errors and not result.analysis.errors
    assert result.files, "the generated kernels hold no fixable guard: the generator is broken"
    for path, text in before.items():
        after = path.read_text(encoding="utf-8")
        ast.parse(after)
        only_guard_tokens_changed(text, after)
    # every applied fix made its guard right: nothing fixable is left, and a second run changes nothing
    assert not [d for d in result.remaining if d.fix is not None]
    again = api.fix([tmp_path], settings, unsafe=True, jobs=1)
    assert again.files == [] and again.errors == []


def test_mutated_kernels_never_crash_a_run(tmp_path):
    rng = random.Random(4)
    _tree(tmp_path, [(mutate(rng, module(rng)), mutate(rng, host(rng))) for _ in range(PACKAGES)])
    before = {p: p.read_text(encoding="utf-8", errors="surrogateescape") for p in tmp_path.rglob("*.py")}
    settings = load_settings([tmp_path])
    result = api.check([tmp_path], settings, jobs=1)
    assert not [e for e in result.errors if "internal error" in e.reason], result.errors
    fixed = api.fix([tmp_path], settings, unsafe=True, jobs=1)
    assert not [e for e in fixed.errors if "internal error" in e.reason], fixed.errors
    for path, text in before.items():
        after = path.read_text(encoding="utf-8", errors="surrogateescape")
        if after != text:
            ast.parse(after)
            only_guard_tokens_changed(text, after)
