"""``sentinel-lint check`` on each single-file kernel fixture: exactly the lines marked ``# expect: CODE``."""
from __future__ import annotations

import pytest

from helpers import (FIXTURES, KERNELS, REPO, SNAPSHOTS, UPDATE_SNAPSHOTS, check_json, expected_markers, fixture_args,
                     found, render)

KERNEL_FILES = sorted(p for p in KERNELS.glob("*.py"))
# Snapshot (exact column and message) for a representative subset.
SNAPSHOT_FILES = ["forms_triton_jit", "guard_ops_null_block", "guard_ops_slot_mapping", "guard_forms",
                  "named_constants", "pack_pad_slot_id", "sentinel_zero", "sentinel_named_minus_one", "helpers"]


@pytest.mark.parametrize("path", KERNEL_FILES, ids=lambda p: p.stem)
def test_exact_findings(path):
    code, doc = check_json(*fixture_args(path), path)
    want = expected_markers(path)
    assert found(doc) == want
    assert doc["errors"] == []
    assert code == (1 if want else 0)
    assert all(d["path"] == path.name for d in doc["diagnostics"])


@pytest.mark.parametrize("stem", SNAPSHOT_FILES)
def test_snapshot(stem):
    path = KERNELS / f"{stem}.py"
    _, doc = check_json(*fixture_args(path), path)
    text = render(doc)
    snapshot = SNAPSHOTS / f"{stem}.txt"
    if UPDATE_SNAPSHOTS or not snapshot.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(text, encoding="utf-8")
        if not UPDATE_SNAPSHOTS:
            pytest.fail(f"wrote a new snapshot {snapshot}; review it and run again")
    assert text == snapshot.read_text(encoding="utf-8")


def test_directory_at_once_equals_union_of_files():
    """Checking the whole fixture directory finds what the per-file runs find (for fixtures without extra args)."""
    _, doc = check_json(KERNELS)
    want = set()
    for path in KERNEL_FILES:
        if not fixture_args(path):
            want |= {(path.name, line, code) for line, code in expected_markers(path)}
    got = {(d["path"], d["line"], d["code"]) for d in doc["diagnostics"]}
    default_files = {p.name for p in KERNEL_FILES if not fixture_args(p)}
    assert {g for g in got if g[0] in default_files} == want


def test_every_diagnostic_has_a_fix_or_a_reason():
    _, doc = check_json(KERNELS)
    for d in doc["diagnostics"]:
        # a fix is offered (safe only on evidence: traced padding or explicit settings) or the reason why not
        assert d["fixable"] == ("fix" in d and d["fix"]["safe"])
        if "fix" not in d:
            assert d["unfixable_reason"]
        if d["convention"]["source"] in ("pack", "project"):
            assert not d["fixable"], d


def test_named_constant_findings_are_not_fixable():
    path = KERNELS / "named_constants.py"
    _, doc = check_json(*fixture_args(path), path)
    assert doc["diagnostics"]
    for d in doc["diagnostics"]:
        assert not d["fixable"]
        assert d["unfixable_reason"] == "the constant is a name; change it by hand"


def test_select_and_ignore():
    path = KERNELS / "guard_ops_null_block.py"
    _, doc = check_json("--ignore", "SL001", path)
    assert doc["diagnostics"] == []
    _, doc = check_json("--select", "SL001", path)
    assert found(doc) == expected_markers(path)


def test_no_infer_keeps_pack_default_message():
    path = KERNELS / "forms_triton_jit.py"
    _, doc = check_json("--no-infer", path)
    assert found(doc) == expected_markers(path)
    assert all("inference off" in d["message"] for d in doc["diagnostics"])


def test_unfixable_guard_points_at_the_comparison_that_makes_it_wrong():
    """`(slot >= 0) & (slot != NULL_BLOCK_ID)`: `slot >= 0` is right for a slot mapping; the named comparison drops
    real slot 0, so the finding is placed on it (and not fixed: the constant is a name)."""
    path = KERNELS / "named_constants_default.py"
    _, doc = check_json(path)
    d = next(d for d in doc["diagnostics"] if d["line"] == 44)
    assert d["message"].startswith("`slot != NULL_BLOCK_ID` rejects real id 0 as padding")
    assert d["column"] == 27 and not d["fixable"]


def test_readme_example_reports_the_buggy_twins_from_the_repository_root():
    """The README's first command checks fixtures/reference_buggy from the repository root.  The mini-projects under
    fixtures/ are projects of their own (each has a pyproject.toml): their padding must not make this repository look
    split between -1 and 0, which would leave the twins unjudged."""
    code, doc = check_json(FIXTURES / "reference_buggy", cwd=REPO)
    assert code == 1
    assert len(doc["diagnostics"]) == 6
    assert all(d["convention"]["source"] == "pack" for d in doc["diagnostics"])
