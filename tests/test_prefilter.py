"""The byte prefilter never skips a file the analysis would find something in, and skips what it cannot."""
from __future__ import annotations

import pytest

from helpers import FIXTURES

from sentinel_lint.discovery import might_carry_indices, might_hold_kernel, prefilter_needles
from sentinel_lint.stages.scan import analyse_source

KERNEL_FILES = {
    "decorator": "import triton\n\n@triton.jit\ndef k(x):\n    pass\n",
    "decorator call": "import triton\n\n@triton.jit(do_not_specialize=['n'])\ndef k(x, n):\n    pass\n",
    "bare jit": "from triton import jit\nimport triton.language as tl\n\n@jit\ndef k(x):\n    pass\n",
    "alias": "import triton as tr\n\n@tr.jit\ndef k(x):\n    pass\n",
    "stacked": ("import triton\n\n@triton.autotune(configs=[], key=['n'])\n@triton.heuristics({'B': lambda a: 1})\n"
                "@triton.jit\ndef k(x, n, B):\n    pass\n"),
    "re-export": "from vllm.triton_utils import tl, triton\n\n@triton.jit\ndef k(x):\n    pass\n",
    "jit call": "import triton\n\ndef _k(x):\n    pass\n\nk = triton.jit(_k)\n",
    "spaced": "import triton\n\n@ triton.jit\ndef k(x):\n    pass\n",
}


@pytest.mark.parametrize("name", sorted(KERNEL_FILES))
def test_every_kernel_form_passes(name):
    source = KERNEL_FILES[name]
    facts = analyse_source(source.encode(), "k.py", "k", "digest").facts
    assert facts.kernels, "the example must be a kernel for the facts pass"
    assert might_hold_kernel(source.encode())


def test_every_fixture_kernel_file_passes():
    checked = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        data = path.read_bytes()
        result = analyse_source(data, path.name, path.stem, "digest")
        if result.facts is not None and result.facts.kernels:
            checked += 1
            assert might_hold_kernel(data), path
    assert checked > 20


def test_words_alone_are_not_a_kernel_file():
    config = b'ENGINE_BACKENDS = ["triton", "jit-compiled"]\n\ndef use_jit(flag: str) -> bool:\n    return flag == "jit"\n'
    assert not might_hold_kernel(config)
    assert not might_hold_kernel(b"import triton\n")


def test_needles_that_contain_another_are_not_searched():
    assert prefilter_needles([b"block_tables", b"block_table", b"slot_mapping"]) == (b"block_table", b"slot_mapping")


@pytest.mark.parametrize("data, expected", [
    (b"x = meta.slot_mapping\n", True),
    (b"PAD_SLOT_ID = -1\n", True),
    (b"t.fill_(_NULL)\n", True),
    (b"PADDING = 3\n", False),  # the word alone, not a constant's part
    (b"x = compute(y)\n", False),
])
def test_host_needles(data, expected):
    assert might_carry_indices(data, prefilter_needles([b"slot_mapping", b"block_table"])) is expected
