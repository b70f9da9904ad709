"""Serving scenarios shared by the CPU interpreter tests, the GPU tests and the GPU proof script.

A :class:`Case` knows how to build random inputs for one launcher (some rows padded with
NULL_BLOCK_ID, real rows on distinct block ids), how to launch it from a kernel module (the
reference one or its buggy twin, which share the launcher API) and how to ask the oracle.
Every output is viewed as ``[units, -1]`` where a unit is a token (or a row for one-token
kernels) and ``Inputs.pad_units`` marks the units that belong to padding rows.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

NULL_BLOCK_ID = 0
REFERENCE_DIR = Path(__file__).resolve().parent
# only meaningful in a source checkout: the buggy twins are test fixtures, not package data
BUGGY_DIR = REFERENCE_DIR.parent / "fixtures" / "reference_buggy"
KERNEL_FILES = ("gated_delta_rule", "sigmoid_gating", "selective_state_update")


@contextlib.contextmanager
def _interpret_env(interpret: bool):
    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1" if interpret else "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TRITON_INTERPRET", None)
        else:
            os.environ["TRITON_INTERPRET"] = old


def triton_interpreting() -> bool:
    """Whether this process's triton runs kernels on its CPU interpreter.

    Fixed when triton is first imported (its own library, e.g. ``tl.zeros``, is decorated then),
    so one process cannot mix interpreted and compiled kernels.
    """
    import triton.language.standard as std

    return type(std.zeros).__name__ == "InterpretedFunction"


def load_kernel_module(path: str | Path, name: str | None = None, interpret: bool | None = None):
    """Import a kernel file by path as a fresh, private module.

    The kernels are decorated in the process's triton mode (see :func:`triton_interpreting`) even
    if ``TRITON_INTERPRET`` changed since; ``interpret``, when given, must agree with that mode.
    """
    mode = triton_interpreting()
    if interpret is not None and interpret != mode:
        raise RuntimeError(
            f"triton was imported with TRITON_INTERPRET={int(mode)}; kernels for the other mode need"
            " their own process (set TRITON_INTERPRET before triton is first imported)"
        )
    path = Path(path)
    name = name or f"_sentinel_kernel_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    with _interpret_env(mode):
        spec.loader.exec_module(module)
    return module


def load_pair(stem: str, interpret: bool | None = None):
    """(reference module, buggy twin module) for one kernel file, both loaded by path."""
    ref = load_kernel_module(REFERENCE_DIR / f"{stem}.py", f"_sentinel_ref_{stem}", interpret)
    bug = load_kernel_module(BUGGY_DIR / f"{stem}.py", f"_sentinel_buggy_{stem}", interpret)
    return ref, bug


# ---------------------------------------------------------------- inputs


@dataclass
class Inputs:
    tensors: dict  # launcher arguments (tensors), including "state" and the index tensor
    pad_units: torch.Tensor  # bool [units]
    opts: dict = field(default_factory=dict)  # non-tensor launcher arguments

    @property
    def state(self) -> torch.Tensor:
        return self.tensors["state"]


def _rand(gen, device, *shape, scale=1.0):
    return (torch.randn(*shape, generator=gen) * scale).to(device)


def _row_ids(rows, n_pad, num_blocks, gen, pad_at_end, per_row=1):
    """Index rows: padding rows all NULL_BLOCK_ID, real rows distinct ids in [1, num_blocks)."""
    n_real = rows - n_pad
    ids = torch.randperm(num_blocks - 1, generator=gen)[: n_real * per_row] + 1
    pad = torch.zeros(rows, dtype=torch.bool)
    pad_pos = torch.arange(n_real, rows) if pad_at_end else torch.randperm(rows, generator=gen)[:n_pad]
    pad[pad_pos] = True
    idx = torch.full((rows, per_row), NULL_BLOCK_ID, dtype=torch.int32)
    idx[~pad] = ids.view(n_real, per_row).to(torch.int32)
    return idx, pad


def _delta_inputs(rows, n_pad, gen, device, pad_at_end, dims, spec, varlen, gated):
    H, HV, K, V, T = (dims[k] for k in ("H", "HV", "K", "V", "T"))
    num_blocks = dims.get("num_blocks", rows * (T if spec else 1) + 3)
    idx, pad = _row_ids(rows, n_pad, num_blocks, gen, pad_at_end, per_row=T if spec else 1)
    if spec:
        # real rows whose later draft tokens were not granted carry the null block there too
        granted = torch.randint(1, T + 1, (rows,), generator=gen)
        granted[int((~pad).nonzero()[0])] = 1  # at least one real row exercises it
        cols = torch.arange(T)[None, :]
        idx = torch.where(cols < granted[:, None], idx, torch.full_like(idx, NULL_BLOCK_ID))
    else:
        idx = idx.view(rows)
    if varlen:
        lens = torch.randint(1, T + 1, (rows,), generator=gen)
        cu = torch.zeros(rows + 1, dtype=torch.int32)
        cu[1:] = torch.cumsum(lens, 0)
        B, L = 1, int(cu[-1])
        pad_units = pad.repeat_interleave(lens)
    else:
        B, L = rows, T
        pad_units = pad.repeat_interleave(T)
    t = {
        "q": _rand(gen, device, B, L, H, K),
        "k": torch.nn.functional.normalize(_rand(gen, device, B, L, H, K), dim=-1),
        "v": _rand(gen, device, B, L, HV, V),
        # the null block holds whatever a previous padded step left there
        "state": _rand(gen, device, num_blocks, HV, V, K, scale=0.5),
        "ssm_state_indices": idx.to(device),
    }
    if gated:
        t.update(
            A_log=_rand(gen, device, HV, scale=0.5),
            a=_rand(gen, device, B, L, HV),
            b=_rand(gen, device, B, L, HV),
            dt_bias=_rand(gen, device, HV, scale=0.5),
        )
    else:
        t.update(
            g=torch.nn.functional.logsigmoid(_rand(gen, device, B, L, HV)),
            beta=torch.sigmoid(_rand(gen, device, B, L, HV)),
        )
    if varlen:
        t["cu_seqlens"] = cu.to(device)
    return Inputs(t, pad_units.to(device), {"use_qk_l2norm": True} if gated else {})


def _packed_inputs(rows, n_pad, gen, device, pad_at_end, dims):
    H, HV, K, V = (dims[k] for k in ("H", "HV", "K", "V"))
    num_blocks = dims.get("num_blocks", rows + 3)
    idx, pad = _row_ids(rows, n_pad, num_blocks, gen, pad_at_end)
    q = _rand(gen, device, rows, H, K)
    k = torch.nn.functional.normalize(_rand(gen, device, rows, H, K), dim=-1)
    v = _rand(gen, device, rows, HV, V)
    t = {
        "mixed_qkv": torch.cat([q.flatten(1), k.flatten(1), v.flatten(1)], dim=1),
        "g": torch.nn.functional.logsigmoid(_rand(gen, device, rows, HV)),
        "beta": torch.sigmoid(_rand(gen, device, rows, HV)),
        "state": _rand(gen, device, num_blocks, HV, V, K, scale=0.5),
        "ssm_state_indices": idx.view(rows).to(device),
    }
    return Inputs(t, pad.to(device))


def _ssu_inputs(rows, n_pad, gen, device, pad_at_end, dims):
    nheads, dim, dstate, ngroups = (dims[k] for k in ("nheads", "dim", "dstate", "ngroups"))
    num_blocks = dims.get("num_blocks", rows + 3)
    idx, pad = _row_ids(rows, n_pad, num_blocks, gen, pad_at_end)
    t = {
        "state": _rand(gen, device, num_blocks, nheads, dim, dstate, scale=0.5),
        "x": _rand(gen, device, rows, nheads, dim),
        "dt": _rand(gen, device, rows, nheads, dim),
        "A": -torch.rand(nheads, dim, dstate, generator=gen).to(device) - 0.1,
        "B": _rand(gen, device, rows, ngroups, dstate),
        "C": _rand(gen, device, rows, ngroups, dstate),
        "D": _rand(gen, device, nheads, dim),
        "z": _rand(gen, device, rows, nheads, dim),
        "dt_bias": _rand(gen, device, nheads, dim, scale=0.5),
        "state_batch_indices": idx.view(rows).to(device),
    }
    return Inputs(t, pad.to(device))


# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    module: str  # kernel file stem
    make: Callable  # (rows, n_pad, gen, device, pad_at_end, dims) -> Inputs
    launch: Callable  # (module, Inputs) -> out; updates Inputs.state in place
    oracle: Callable  # (module, Inputs) -> (out, new_state); pure
    small: dict  # dims for tests
    large: dict  # dims for timing
    graphable: bool = True  # fixed shapes, so a CUDA graph can be captured and replayed


def _gdr_args(x):
    t = x.tensors
    return (t["q"], t["k"], t["v"], t["g"], t["beta"], t["state"], t["ssm_state_indices"], t.get("cu_seqlens"))


def _sig_args(x):
    t = x.tensors
    return (
        t["A_log"],
        t["a"],
        t["b"],
        t["dt_bias"],
        t["q"],
        t["k"],
        t["v"],
        t["state"],
        t["ssm_state_indices"],
        t.get("cu_seqlens"),
    )


def _ssu_kwargs(x):
    t = x.tensors
    keys = ("state", "x", "dt", "A", "B", "C", "D", "z", "dt_bias", "state_batch_indices")
    return {k: t[k] for k in keys}


def _packed_args(x):
    t = x.tensors
    return (t["mixed_qkv"], t["g"], t["beta"], t["state"], t["ssm_state_indices"])


_GDR_SMALL = {"H": 2, "HV": 4, "K": 16, "V": 16, "T": 3}
_GDR_LARGE = {"H": 16, "HV": 32, "K": 128, "V": 128, "T": 2}

CASES = {
    c.name: c
    for c in [
        Case(
            "gdr_fixed",
            "gated_delta_rule",
            lambda r, p, g, d, e, dims: _delta_inputs(r, p, g, d, e, dims, spec=False, varlen=False, gated=False),
            lambda m, x: m.fused_recurrent_gated_delta_rule(*_gdr_args(x)),
            lambda m, x: m.fused_recurrent_gated_delta_rule_ref(*_gdr_args(x)),
            _GDR_SMALL,
            _GDR_LARGE,
        ),
        Case(
            "gdr_spec",
            "gated_delta_rule",
            lambda r, p, g, d, e, dims: _delta_inputs(r, p, g, d, e, dims, spec=True, varlen=False, gated=False),
            lambda m, x: m.fused_recurrent_gated_delta_rule(*_gdr_args(x)),
            lambda m, x: m.fused_recurrent_gated_delta_rule_ref(*_gdr_args(x)),
            _GDR_SMALL,
            _GDR_LARGE,
        ),
        Case(
            "gdr_varlen",
            "gated_delta_rule",
            lambda r, p, g, d, e, dims: _delta_inputs(r, p, g, d, e, dims, spec=False, varlen=True, gated=False),
            lambda m, x: m.fused_recurrent_gated_delta_rule(*_gdr_args(x)),
            lambda m, x: m.fused_recurrent_gated_delta_rule_ref(*_gdr_args(x)),
            _GDR_SMALL,
            _GDR_LARGE,
            graphable=False,
        ),
        Case(
            "gdr_packed_decode",
            "gated_delta_rule",
            lambda r, p, g, d, e, dims: _packed_inputs(r, p, g, d, e, dims),
            lambda m, x: m.packed_decode_gated_delta_rule(*_packed_args(x)),
            lambda m, x: m.packed_decode_gated_delta_rule_ref(*_packed_args(x)),
            _GDR_SMALL,
            _GDR_LARGE,
        ),
        Case(
            "sigmoid_gating_fixed",
            "sigmoid_gating",
            lambda r, p, g, d, e, dims: _delta_inputs(r, p, g, d, e, dims, spec=False, varlen=False, gated=True),
            lambda m, x: m.fused_sigmoid_gating_delta_rule_update(*_sig_args(x), **x.opts),
            lambda m, x: m.fused_sigmoid_gating_delta_rule_update_ref(*_sig_args(x), **x.opts),
            _GDR_SMALL,
            _GDR_LARGE,
        ),
        Case(
            "sigmoid_gating_spec",
            "sigmoid_gating",
            lambda r, p, g, d, e, dims: _delta_inputs(r, p, g, d, e, dims, spec=True, varlen=False, gated=True),
            lambda m, x: m.fused_sigmoid_gating_delta_rule_update(*_sig_args(x), **x.opts),
            lambda m, x: m.fused_sigmoid_gating_delta_rule_update_ref(*_sig_args(x), **x.opts),
            _GDR_SMALL,
            _GDR_LARGE,
        ),
        Case(
            "sigmoid_gating_varlen",
            "sigmoid_gating",
            lambda r, p, g, d, e, dims: _delta_inputs(r, p, g, d, e, dims, spec=False, varlen=True, gated=True),
            lambda m, x: m.fused_sigmoid_gating_delta_rule_update(*_sig_args(x), **x.opts),
            lambda m, x: m.fused_sigmoid_gating_delta_rule_update_ref(*_sig_args(x), **x.opts),
            _GDR_SMALL,
            _GDR_LARGE,
            graphable=False,
        ),
        Case(
            "selective_state_update",
            "selective_state_update",
            lambda r, p, g, d, e, dims: _ssu_inputs(r, p, g, d, e, dims),
            lambda m, x: m.selective_state_update_fwd(**_ssu_kwargs(x)),
            lambda m, x: m.selective_state_update_ref(**_ssu_kwargs(x)),
            {"nheads": 4, "dim": 16, "dstate": 16, "ngroups": 2},
            {"nheads": 128, "dim": 64, "dstate": 128, "ngroups": 8},
        ),
    ]
}


def make_inputs(case: Case, rows=8, n_pad=3, seed=0, device="cpu", pad_at_end=False, dims=None, gen=None):
    gen = gen if gen is not None else torch.Generator().manual_seed(seed)
    return case.make(rows, n_pad, gen, device, pad_at_end, dict(dims or case.small))


# ---------------------------------------------------------------- checks


@dataclass
class Outcome:
    block0_changed: bool
    pad_out_max: float  # largest |output| on padding units (0 when they are zeroed)
    out_err: float  # max |out - oracle| on real units
    state_err: float  # max |state - oracle| over blocks 1..
    untouched_changed: bool  # some block no index names (other than 0) changed
    out: torch.Tensor
    expected_out: torch.Tensor
    state: torch.Tensor
    expected_state: torch.Tensor


def compare(case: Case, x: Inputs, before: torch.Tensor, out: torch.Tensor, expected) -> Outcome:
    exp_out, exp_state = expected
    state = x.state
    units = x.pad_units.numel()
    o, eo = out.reshape(units, -1).float(), exp_out.reshape(units, -1).float()
    real = ~x.pad_units
    idx_name = "state_batch_indices" if "state_batch_indices" in x.tensors else "ssm_state_indices"
    named = torch.zeros(state.shape[0], dtype=torch.bool, device=state.device)
    named[x.tensors[idx_name].long().flatten()] = True
    named[NULL_BLOCK_ID] = True
    return Outcome(
        block0_changed=not torch.equal(state[NULL_BLOCK_ID], before[NULL_BLOCK_ID]),
        pad_out_max=float(o[x.pad_units].abs().max()) if bool(x.pad_units.any()) else 0.0,
        out_err=float((o[real] - eo[real]).abs().max()),
        state_err=float((state[1:].float() - exp_state[1:].float()).abs().max()),
        untouched_changed=not torch.equal(state[~named], before[~named]),
        out=o[real],
        expected_out=eo[real],
        state=state[1:],
        expected_state=exp_state[1:],
    )


def run_once(case: Case, module, oracle_module, x: Inputs) -> Outcome:
    """Launch ``module``'s kernel on ``x`` (state updated in place) and compare with the oracle."""
    before = x.state.clone()
    expected = case.oracle(oracle_module, x)
    out = case.launch(module, x)
    if x.state.is_cuda:
        torch.cuda.synchronize()
    return compare(case, x, before, out, expected)


# ---------------------------------------------------------------- CUDA graphs


class _EagerReplay:
    """CPU stand-in for a CUDA graph: each replay relaunches into the same output buffer."""

    def __init__(self, case, module, x):
        self.case, self.module, self.x = case, module, x
        self.out = case.launch(module, x)

    def replay(self):
        self.out.copy_(self.case.launch(self.module, self.x))


def capture(case: Case, module, x: Inputs, launches=1):
    """Capture ``launches`` calls of the kernel on the static inputs ``x``; returns (graph, out).

    Off CUDA (interpreter tests) an eager stand-in with the same replay() is returned.
    """
    if not x.state.is_cuda:
        eager = _EagerReplay(case, module, x)
        return eager, eager.out
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # compile and warm up outside the capture
        case.launch(module, x)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(launches):
            out = case.launch(module, x)
    return graph, out


@dataclass
class GraphStats:
    replays: int = 0
    block0_changed: int = 0  # replays after which block 0 differed from before the replay
    pad_out_nonzero: int = 0  # replays with a non-zero output on a padding row
    untouched_changed: int = 0
    max_out_err: float = 0.0  # real rows vs oracle
    max_state_err: float = 0.0  # blocks 1.. vs oracle
    error: str = ""  # CUDA error text if a replay faulted


def graph_scenario(case: Case, module, oracle_module, rows=8, n_pad=3, replays=100, seed=0, dims=None, device="cuda"):
    """Serving loop: capture once on a padded batch, then replay with fresh inputs copied in.

    The state pool persists across replays (as in serving); real ids are redrawn every step.
    """
    gen = torch.Generator().manual_seed(seed)
    static = make_inputs(case, rows, n_pad, device=device, pad_at_end=True, dims=dims, gen=gen)
    graph, out = capture(case, module, static)
    stats = GraphStats()
    try:
        for _ in range(replays):
            fresh = make_inputs(case, rows, n_pad, device=device, pad_at_end=True, dims=dims, gen=gen)
            for key, t in fresh.tensors.items():
                if key != "state":
                    static.tensors[key].copy_(t)
            static.pad_units = fresh.pad_units
            before = static.state.clone()
            expected = case.oracle(oracle_module, static)
            graph.replay()
            if static.state.is_cuda:
                torch.cuda.synchronize()
            r = compare(case, static, before, out, expected)
            stats.replays += 1
            stats.block0_changed += r.block0_changed
            stats.pad_out_nonzero += r.pad_out_max != 0.0
            stats.untouched_changed += r.untouched_changed
            stats.max_out_err = max(stats.max_out_err, r.out_err)
            stats.max_state_err = max(stats.max_state_err, r.state_err)
    except RuntimeError as e:  # a fault poisons the context; report instead of hiding it
        stats.error = str(e).splitlines()[0]
    return stats


def time_graph(case: Case, module, x: Inputs, launches=20, reps=30):
    """Median GPU time of one kernel launch (microseconds), from replays of a graph of ``launches``.

    Works on a private copy of ``x`` so that several modules can be timed on the same inputs.
    """
    x = Inputs({k: v.clone() for k, v in x.tensors.items()}, x.pad_units, dict(x.opts))
    graph, _ = capture(case, module, x, launches)
    for _ in range(3):
        graph.replay()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1000.0 / launches)
    return statistics.median(times)


def main(argv=None):
    """``python -m sentinel_reference.scenarios [--replays N]``: the CUDA-graph check as JSON.

    Runs every fixed-shape case for the reference kernel and its buggy twin in this process, so
    that the caller (tests/gpu) can use a compiling triton whatever mode its own process is in.
    """
    import argparse
    import json

    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    ap.add_argument("--replays", type=int, default=20)
    args = ap.parse_args(argv)
    results = {}
    for case in CASES.values():
        if case.graphable:
            ref, bug = load_pair(case.module, interpret=False)
            for variant, module in (("reference", ref), ("buggy", bug)):
                stats = graph_scenario(case, module, ref, replays=args.replays)
                results[f"{case.name}/{variant}"] = stats.__dict__
    print(json.dumps(results))


if __name__ == "__main__":
    main()
