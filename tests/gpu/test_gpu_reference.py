"""The CUDA-graph serving check on a real GPU (compiled kernels, no interpreter).

Capture a graph on a padded batch (8 rows, 5 real, 3 on NULL_BLOCK_ID 0), replay it with fresh
inputs copied into the static buffers and compare with the PyTorch oracle after every replay.
Skipped, with the reason shown, where there is no CUDA GPU (CI); run benchmarks/gpu/prove_reference.py
for the full proof with timings and compute-sanitizer.
"""

import pytest
import torch

from sentinel_lint.reference import scenarios as sc

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

GRAPH_CASES = [c for c in sc.CASES.values() if c.graphable]
REPLAYS = 20
MAX_ERR = 1e-4


@pytest.fixture(scope="module")
def kernels():
    # pin real compilation even if another test directory set TRITON_INTERPRET=1
    return {stem: sc.load_pair(stem, interpret=False) for stem in sc.KERNEL_FILES}


@pytest.mark.parametrize("case", GRAPH_CASES, ids=lambda c: c.name)
def test_graph_replays_reference(case, kernels):
    ref, _ = kernels[case.module]
    st = sc.graph_scenario(case, ref, ref, rows=8, n_pad=3, replays=REPLAYS)
    assert st.error == "" and st.replays == REPLAYS
    assert st.block0_changed == 0
    assert st.pad_out_nonzero == 0
    assert st.untouched_changed == 0
    assert st.max_out_err < MAX_ERR and st.max_state_err < MAX_ERR


@pytest.mark.parametrize("case", GRAPH_CASES, ids=lambda c: c.name)
def test_graph_replays_buggy_twin_corrupt_block0(case, kernels):
    ref, bug = kernels[case.module]
    st = sc.graph_scenario(case, bug, ref, rows=8, n_pad=3, replays=REPLAYS)
    assert st.error == "" and st.replays == REPLAYS
    assert st.block0_changed == REPLAYS
    # real rows stay right: the corruption is silent
    assert st.max_out_err < MAX_ERR and st.max_state_err < MAX_ERR
