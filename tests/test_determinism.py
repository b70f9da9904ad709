"""The same tree gives the same report: in every process (string hashing is randomised per process), with any
number of workers, and from the cache."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers import PROJECTS

KERNEL = '''import triton
import triton.language as tl


@triton.jit
def k(x, block_table):
    blk = tl.load(block_table + tl.program_id(0))
    if blk < 0:
        return
    tl.store(x + blk, 1)
'''

CLASSES = "ABCDEFGH"


def _host() -> str:
    """Padding written into a field of an object of unknown class, read back through eight typed objects: eight
    chains of the same length reach the kernel, and the report must always cite the same one."""
    parts = ["import torch", "from kern import k", "NULL_BLOCK_ID = 0", ""]
    parts += [f"class Meta{c}:\n    pass\n" for c in CLASSES]
    parts.append("def pad(obj, t, n):\n    t[n:] = NULL_BLOCK_ID\n    obj.block_table = t\n")
    parts += [f"def run_{c.lower()}(m: Meta{c}, x):\n    k[(1,)](x, m.block_table)\n" for c in CLASSES]
    return "\n".join(parts)


def _run(*args, cwd, seed: int) -> str:
    env = dict(os.environ, PYTHONHASHSEED=str(seed), NO_COLOR="1", CI="1")
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


def test_equal_chains_are_chosen_the_same_way_in_every_process(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'det'\nversion = '0'\n", encoding="utf-8")
    (tmp_path / "kern.py").write_text(KERNEL, encoding="utf-8")
    (tmp_path / "host.py").write_text(_host(), encoding="utf-8")
    reports = {_run("conventions", "--no-cache", "--output-format", "json", ".", cwd=tmp_path, seed=seed)
               for seed in range(6)}
    assert len(reports) == 1
    assert '"kernel": "k"' in reports.pop()


def test_workers_and_cache_do_not_change_the_report(tmp_path):
    root = PROJECTS / "multi_backend"
    args = ("check", "--output-format", "json", "--exit-zero")
    serial = _run(*args, "--no-cache", "--jobs", "1", ".", cwd=root, seed=1)
    parallel = _run(*args, "--no-cache", "--jobs", "2", ".", cwd=root, seed=2)
    cache = ("--cache-dir", str(tmp_path / "cache"))
    first = _run(*args, *cache, "--jobs", "2", ".", cwd=root, seed=3)
    warm = _run(*args, *cache, "--jobs", "2", ".", cwd=root, seed=4)

    def findings(report: str) -> str:
        return report.split('"summary"')[0]  # the summary holds the elapsed time

    assert '"SL001"' in serial
    assert findings(serial) == findings(parallel) == findings(first) == findings(warm)
