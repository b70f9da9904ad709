"""The CUDA-graph serving check on a real GPU (compiled kernels, no interpreter).

Capture a graph on a padded batch (8 rows, 5 real, 3 on NULL_BLOCK_ID 0), replay it with fresh
inputs copied into the static buffers and compare with the PyTorch oracle after every replay.
Triton fixes interpreter-vs-compiler when it is first imported and tests/reference runs the
interpreter, so the check runs in a child process with TRITON_INTERPRET=0.
Skipped, with the reason shown, where there is no CUDA GPU (CI); run benchmarks/gpu/prove_reference.py
for the full proof with timings and compute-sanitizer.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sentinel_reference import scenarios as sc

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

ROOT = Path(__file__).resolve().parents[2]
GRAPH_CASES = [c for c in sc.CASES.values() if c.graphable]
REPLAYS = 20
MAX_ERR = 1e-4


@pytest.fixture(scope="module")
def stats():
    """ "case/variant" -> GraphStats fields, from one compiling child process."""
    env = dict(os.environ, TRITON_INTERPRET="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "sentinel_reference.scenarios", "--replays", str(REPLAYS)]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", GRAPH_CASES, ids=lambda c: c.name)
def test_graph_replays_reference(case, stats):
    st = stats[f"{case.name}/reference"]
    assert st["error"] == "" and st["replays"] == REPLAYS
    assert st["block0_changed"] == 0
    assert st["pad_out_nonzero"] == 0
    assert st["untouched_changed"] == 0
    assert st["max_out_err"] < MAX_ERR and st["max_state_err"] < MAX_ERR


@pytest.mark.parametrize("case", GRAPH_CASES, ids=lambda c: c.name)
def test_graph_replays_buggy_twin_corrupt_block0(case, stats):
    st = stats[f"{case.name}/buggy"]
    assert st["error"] == "" and st["replays"] == REPLAYS
    assert st["block0_changed"] == REPLAYS
    # real rows stay right: the corruption is silent
    assert st["max_out_err"] < MAX_ERR and st["max_state_err"] < MAX_ERR
