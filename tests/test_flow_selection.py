"""Which jit functions get a libcst index flow: those a convention can reach, their callers, then their callees."""
from __future__ import annotations

from pathlib import Path

from helpers import check_json

from sentinel_lint.config import load_settings
from sentinel_lint.model.flow import FlowGraph
from sentinel_lint.model.project import Project
from sentinel_lint.stages.kernels import needed_functions
from sentinel_lint.stages.link import Linked
from sentinel_lint.stages.scan import analyse_source

SOURCE = '''import triton
import triton.language as tl


@triton.jit
def _exp(x):
    return tl.exp(x)


@triton.jit
def gather(out, block_table, D: tl.constexpr):
    blk = tl.load(block_table + tl.program_id(0))
    if blk <= 0:
        return
    tl.store(out + blk, _exp(1.0))


@triton.jit
def softmax(out, x_ptr, D: tl.constexpr):
    v = tl.load(x_ptr + tl.arange(0, D))
    if D > 1:
        v = _exp(v)
    tl.store(out + tl.arange(0, D), v)


@triton.jit
def _row_ok(block_table, i):
    blk = tl.load(block_table + i)
    return blk >= 0


@triton.jit
def copy_rows(out, x_ptr, D: tl.constexpr):
    if _row_ok(x_ptr, 0):
        tl.store(out, 1)


def launch(out, x):
    softmax[(1,)](out, x, D=128)
    copy_rows[(1,)](out, x, D=128)
'''


def _needed(tmp_path: Path) -> set[str]:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'sel'\nversion = '0'\n", encoding="utf-8")
    (tmp_path / "ops.py").write_text(SOURCE, encoding="utf-8")
    settings = load_settings([tmp_path])
    facts = analyse_source(SOURCE.encode(), "ops.py", "ops", "digest").facts
    project = Project([facts])
    graph = FlowGraph(project, lambda path: True, settings.is_index_param).build()
    return needed_functions(Linked(project, graph), settings).get("ops", set())


def test_kernels_a_convention_reaches_and_their_helpers(tmp_path):
    needed = _needed(tmp_path)
    assert {"gather", "_exp"} <= needed  # an index tensor by name, and the helper it calls
    # Another caller of the shared helper, whose parameters only get block sizes bound at the launch, is not.
    assert "softmax" not in needed


def test_callers_of_a_helper_with_an_index_parameter(tmp_path):
    needed = _needed(tmp_path)
    # The helper's guard is judged through the parameter its callers pass (here x_ptr, of no known convention).
    assert {"_row_ok", "copy_rows"} <= needed
    _, doc = check_json(tmp_path / "ops.py")
    assert doc["diagnostics"] == []
