"""The benchmark's parser floor times exactly what a cold run parses: it must see the run's files and functions."""
from __future__ import annotations

import importlib.util

from helpers import PROJECTS, REPO


def _parse_floor():
    spec = importlib.util.spec_from_file_location("parse_floor", REPO / "benchmarks" / "parse_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parse_floor_records_the_files_and_kernels_a_run_parses():
    files, functions = _parse_floor().record(PROJECTS / "gdn_null_block")
    parsed = sorted(path for path, _ in files)
    # The kernels' file, the host files that name index tensors and the one that defines the sentinel constant; the
    # package's empty __init__ is prefiltered away.
    assert parsed == ["gdn/constants.py", "gdn/layer.py", "gdn/metadata.py", "gdn/ops.py"]
    # Each jit function on its own, from its `def` (the index flow parses no decorator and no host code).
    names = sorted(f.split("(", 1)[0] for f in functions)
    assert names == ["def conv_update_kernel", "def fused_recurrent_kernel"]


def test_parse_floor_report_names_every_parser(capsys):
    assert _parse_floor().main([str(PROJECTS / "gdn_null_block"), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "ast.parse, files with kernels:" in out and "1 files" in out
    assert "libcst.parse_module, jit functions:" in out and "2 fns" in out
    assert "on 2 core(s)" in out
