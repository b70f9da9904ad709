"""Execute every reference kernel and its buggy twin on Triton's CPU interpreter.

Each scenario is a padded batch: 8 rows, 3 of them CUDA-graph padding carrying NULL_BLOCK_ID (0)
at random positions, the real rows on distinct block ids >= 1.  The null block starts with
random contents, as it would after earlier padded steps.
"""

import os
from pathlib import Path

import pytest
import torch

from sentinel_reference import scenarios as sc

CASES = list(sc.CASES.values())
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def kernels():
    """kernel file stem -> (reference module, buggy twin module), both loaded by path, interpreted."""
    return {stem: sc.load_pair(stem, interpret=True) for stem in sc.KERNEL_FILES}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reference_leaves_null_block_alone(case, seed, kernels):
    ref, _ = kernels[case.module]
    x = sc.make_inputs(case, rows=8, n_pad=3, seed=seed)
    r = sc.run_once(case, ref, ref, x)
    assert not r.block0_changed, "reference kernel wrote the null block"
    assert r.pad_out_max == 0.0, "padding rows must output exact zeros"
    assert not r.untouched_changed, "a block no index names was modified"
    torch.testing.assert_close(r.out, r.expected_out, **TOL)
    torch.testing.assert_close(r.state, r.expected_state, **TOL)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_buggy_twin_corrupts_null_block(case, kernels):
    ref, bug = kernels[case.module]
    x = sc.make_inputs(case, rows=8, n_pad=3, seed=0)
    r = sc.run_once(case, bug, ref, x)
    assert r.block0_changed, "the pre-fix guard should let padding rows write block 0"
    # the bug is silent for real rows: only the null block (and padding outputs) go wrong
    torch.testing.assert_close(r.out, r.expected_out, **TOL)
    torch.testing.assert_close(r.state, r.expected_state, **TOL)


@pytest.mark.parametrize("case", [c for c in CASES if c.name.endswith("_spec")], ids=lambda c: c.name)
def test_store_guard_alone_matters(case, kernels):
    """No padding rows at all: only real rows' ungranted draft slots carry the null block, so
    block 0 is reached through the final-state store guard alone."""
    ref, bug = kernels[case.module]
    x = sc.make_inputs(case, rows=4, n_pad=0, seed=3)
    assert not sc.run_once(case, ref, ref, x).block0_changed
    x = sc.make_inputs(case, rows=4, n_pad=0, seed=3)
    assert sc.run_once(case, bug, ref, x).block0_changed


@pytest.mark.parametrize("case", [c for c in CASES if c.graphable], ids=lambda c: c.name)
def test_reference_also_skips_legacy_pad_slot_id(case, kernels):
    """Rows still padded with PAD_SLOT_ID = -1 are skipped too (no wrap-around to the last block)."""
    ref, _ = kernels[case.module]
    x = sc.make_inputs(case, rows=8, n_pad=3, seed=2)
    name = "state_batch_indices" if "state_batch_indices" in x.tensors else "ssm_state_indices"
    idx = x.tensors[name]
    idx[idx == sc.NULL_BLOCK_ID] = -1
    r = sc.run_once(case, ref, ref, x)  # the oracle treats every id below 1 as padding
    assert not r.block0_changed and r.pad_out_max == 0.0
    # a wrapped -1 would have written the last block, which the oracle leaves alone
    torch.testing.assert_close(r.state, r.expected_state, **TOL)


@pytest.mark.parametrize("case", [c for c in CASES if c.graphable], ids=lambda c: c.name)
def test_serving_loop(case, kernels):
    """The GPU proof's replay loop (eager stand-in for the graph): persistent pool, fresh inputs."""
    ref, bug = kernels[case.module]
    good = sc.graph_scenario(case, ref, ref, replays=2, device="cpu")
    assert (good.replays, good.block0_changed, good.pad_out_nonzero, good.untouched_changed) == (2, 0, 0, 0)
    assert good.max_out_err < 1e-5 and good.max_state_err < 1e-5 and not good.error
    bad = sc.graph_scenario(case, bug, ref, replays=2, device="cpu")
    assert bad.block0_changed == 2 and bad.pad_out_nonzero == 2
    assert bad.max_out_err < 1e-5 and bad.max_state_err < 1e-5


def test_package_is_lazy_and_reexports(tmp_path):
    import subprocess
    import sys

    from sentinel_reference import KERNEL_MODULES

    names = [n for ns in KERNEL_MODULES.values() for n in ns]
    code = (
        "import sys, sentinel_reference as r\n"
        "assert r.NULL_BLOCK_ID == 0\n"
        "assert 'triton' not in sys.modules and 'torch' not in sys.modules, 'eager import'\n"
        f"names = {names!r}\n"
        "assert all(callable(getattr(r, n)) for n in names)\n"
        "assert 'triton' in sys.modules\n"
        "import types, sentinel_reference.selective_state_update\n"
        "from sentinel_reference import " + ", ".join(names) + "\n"
        "fns = [getattr(r, n) for n in names] + [globals()[n] for n in names]\n"
        "assert all(isinstance(f, types.FunctionType) for f in fns), 'shadowed by a submodule'\n"
        "print('ok')\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    res = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
