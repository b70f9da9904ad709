"""Prove on a real GPU that the reference kernels keep the null block intact and their buggy twins do not.

    python benchmarks/gpu/prove_reference.py [--replays 100] [--no-sanitizer]

For every fixed-shape scenario in ``sentinel_reference.scenarios`` and for both the reference
kernel and its buggy twin (fixtures/reference_buggy/, pre-fix guards), compiled for real (no
interpreter):

1. serving check: capture a CUDA graph on a padded batch (8 rows, 5 real, 3 rows on NULL_BLOCK_ID
   0), replay it ``--replays`` times with fresh inputs copied into the static buffers, compare each
   replay with the PyTorch oracle and count the replays after which block 0 had changed;
2. timing: median GPU time per launch, reference vs twin, at the graph size and at a large
   decode batch (256 rows, 64 padded), from CUDA-event-timed replays of a graph of 20 launches;
3. compute-sanitizer memcheck: reruns this script under ``compute-sanitizer --tool memcheck`` once
   per variant (plus a planted out-of-bounds index as a positive control) and reports the error
   counts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["TRITON_INTERPRET"] = "0"

import torch
import triton

from sentinel_reference import scenarios as sc

GRAPH_CASES = [c for c in sc.CASES.values() if c.graphable]
LARGE_ROWS, LARGE_PAD = 256, 64


def environment():
    smi = shutil.which("nvidia-smi")
    driver = "?"
    if smi:
        q = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"], check=False, capture_output=True, text=True
        )
        driver = q.stdout.strip().splitlines()[0] if q.returncode == 0 and q.stdout.strip() else "?"
    p = torch.cuda.get_device_properties(0)
    return {
        "gpu": torch.cuda.get_device_name(0),
        "capability": f"sm_{p.major}{p.minor}",
        "sms": p.multi_processor_count,
        "driver": driver,
        "cuda_runtime": torch.version.cuda,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": sys.version.split()[0],
    }


def prove(replays):
    rows = []
    for case in GRAPH_CASES:
        ref, bug = sc.load_pair(case.module, interpret=False)
        for variant, mod in (("reference", ref), ("buggy", bug)):
            st = sc.graph_scenario(case, mod, ref, rows=8, n_pad=3, replays=replays, seed=1)
            rows.append({"case": case.name, "variant": variant, **st.__dict__})
            print(
                f"{case.name:24s} {variant:9s} replays={st.replays:3d} block0_changed={st.block0_changed:3d} "
                f"pad_out_nonzero={st.pad_out_nonzero:3d} untouched_changed={st.untouched_changed:3d} "
                f"max_out_err={st.max_out_err:.2e} max_state_err={st.max_state_err:.2e} "
                f"fault={st.error or 'none'}",
                flush=True,
            )
    return rows


def timings():
    rows = []
    sizes = (("8x3pad", 8, 3, "small"), (f"{LARGE_ROWS}x{LARGE_PAD}pad", LARGE_ROWS, LARGE_PAD, "large"))
    for case in GRAPH_CASES:
        ref, bug = sc.load_pair(case.module, interpret=False)
        for label, n, pad, size in sizes:
            dims = getattr(case, size)
            x = sc.make_inputs(case, n, pad, seed=2, device="cuda", pad_at_end=True, dims=dims)
            t_ref = sc.time_graph(case, ref, x)
            t_bug = sc.time_graph(case, bug, x)
            rows.append({"case": case.name, "size": label, "dims": dims, "ref_us": t_ref, "buggy_us": t_bug})
            print(
                f"{case.name:24s} {label:11s} reference={t_ref:9.2f} us  buggy={t_bug:9.2f} us  "
                f"ref/buggy={t_ref / t_bug:.3f}",
                flush=True,
            )
            del x
            torch.cuda.empty_cache()
    return rows


def sanitize_child(what):
    """Run each kernel once for memcheck to watch (eager launches: no graph pool needed)."""
    cases = list(sc.CASES.values())
    if what == "oob":
        cases = [sc.CASES["selective_state_update"]]
    for case in cases:
        ref, bug = sc.load_pair(case.module, interpret=False)
        mod = bug if what == "buggy" else ref
        x = sc.make_inputs(case, rows=8, n_pad=3, seed=4, device="cuda")
        if what == "oob":  # positive control: a real row pointing far past the pool
            x.tensors["state_batch_indices"][0] = x.state.shape[0] + 4096
        case.launch(mod, x)
        torch.cuda.synchronize()
    print(f"sanitize child {what}: done", flush=True)


def sanitizer():
    exe = shutil.which("compute-sanitizer")
    if exe is None:
        found = sorted(Path("/usr/local").glob("cuda*/bin/compute-sanitizer")) + sorted(
            Path("/opt/nvidia").glob("**/compute-sanitizer")
        )
        exe = str(found[0]) if found else None
    if exe is None:
        print("compute-sanitizer: not found", flush=True)
        return {"path": None}
    res = {"path": exe}
    # one cudaMalloc per tensor, so an overrun leaves its allocation instead of landing in the cache
    env = dict(os.environ, PYTORCH_NO_CUDA_MEMORY_CACHING="1", TRITON_INTERPRET="0")
    for what in ("reference", "buggy", "oob"):
        cmd = [exe, "--tool", "memcheck", "--print-limit", "5", sys.executable, __file__, "--sanitize-child", what]
        try:
            p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=180)
        except subprocess.TimeoutExpired:
            res[what] = {"errors": None, "returncode": "timeout"}
            print(f"compute-sanitizer memcheck [{what:9s}]: timed out after 180 s", flush=True)
            continue
        out = p.stdout + p.stderr
        m = re.search(r"ERROR SUMMARY: (\d+) error", out)
        res[what] = {"errors": int(m.group(1)) if m else None, "returncode": p.returncode}
        first = next((ln.strip() for ln in out.splitlines() if "Invalid" in ln), "")
        print(
            f"compute-sanitizer memcheck [{what:9s}]: errors={res[what]['errors']} rc={p.returncode}"
            + (f"  first: {first}" if first else ""),
            flush=True,
        )
        if m is None:
            print(out[-2000:], flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replays", type=int, default=100)
    ap.add_argument("--no-sanitizer", action="store_true")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--json", help="also write all results to this file")
    ap.add_argument("--sanitize-child", choices=["reference", "buggy", "oob"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU")
    if args.sanitize_child:
        sanitize_child(args.sanitize_child)
        return
    env = environment()
    print(" ".join(f"{k}={v}" for k, v in env.items()), flush=True)
    results = {"environment": env, "graph": prove(args.replays)}
    if not args.no_timing:
        results["timing"] = timings()
    if not args.no_sanitizer:
        results["sanitizer"] = sanitizer()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
