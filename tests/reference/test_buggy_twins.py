"""Each fixtures/reference_buggy/<name>.py differs from its reference only in the pre-fix guards.

The autofixer is tested to turn each twin back into the reference byte for byte, so the twin
must be the reference with ``<= 0`` -> ``< 0`` and ``> 0`` -> ``>= 0`` on guard lines, nothing else.
"""

import difflib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REF_DIR = ROOT / "sentinel_reference"
BUGGY_DIR = ROOT / "fixtures" / "reference_buggy"
STEMS = ["gated_delta_rule", "sigmoid_gating", "selective_state_update"]
GUARD = re.compile(r"^(?P<indent>[ ]*)if (?P<name>\w+) (?P<op><=|>=|<|>) 0:\n$")
FLIP = {"<=": "<", ">": ">="}  # fixed guard -> the guard it replaced (PAD_SLOT_ID era)
INDEX_NAMES = {"state_idx", "final_state_idx", "state_batch_idx"}


def test_every_kernel_file_has_exactly_one_twin():
    kernel_files = {p.name for p in REF_DIR.glob("*.py")} - {"__init__.py", "scenarios.py"}
    assert kernel_files == {f"{s}.py" for s in STEMS}
    assert {p.name for p in BUGGY_DIR.glob("*.py")} == kernel_files


@pytest.mark.parametrize("stem", STEMS)
def test_twin_differs_only_in_guard_operators(stem):
    ref = (REF_DIR / f"{stem}.py").read_text().splitlines(keepends=True)
    bug = (BUGGY_DIR / f"{stem}.py").read_text().splitlines(keepends=True)
    ref_guards = [i for i, line in enumerate(ref) if (m := GUARD.match(line)) and m["op"] in FLIP]
    assert ref_guards, "reference has no NULL_BLOCK_ID guard"

    changed = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ref, b=bug, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        assert tag == "replace" and i2 - i1 == j2 - j1, f"{tag} at reference lines {i1 + 1}-{i2}"
        for i, (a, b) in enumerate(zip(ref[i1:i2], bug[j1:j2]), start=i1):
            ma, mb = GUARD.match(a), GUARD.match(b)
            assert ma and mb, f"line {i + 1} changed but is not a guard: {a!r} -> {b!r}"
            assert (ma["indent"], ma["name"]) == (mb["indent"], mb["name"])
            assert ma["name"] in INDEX_NAMES
            assert FLIP.get(ma["op"]) == mb["op"], f"line {i + 1}: {ma['op']} -> {mb['op']}"
            changed.append(i)
    # every fixed guard was reverted, and nothing else
    assert changed == ref_guards


@pytest.mark.parametrize("stem", STEMS)
def test_twin_is_reference_with_flipped_guards_bytewise(stem):
    ref = (REF_DIR / f"{stem}.py").read_bytes()
    bug = (BUGGY_DIR / f"{stem}.py").read_bytes()
    lines = ref.decode().splitlines(keepends=True)
    flipped = []
    for line in lines:
        m = GUARD.match(line)
        if m and m["op"] in FLIP:
            line = f"{m['indent']}if {m['name']} {FLIP[m['op']]} 0:\n"
        flipped.append(line)
    assert "".join(flipped).encode() == bug
