"""Mamba-style selective state update (one decode token per row).

State pool ``state[num_blocks, nheads, dim, dstate]`` (fp32).  Row ``b``
advances ``state[state_batch_indices[b]]`` by one token:

    dt    = softplus(dt + dt_bias)                  [dim]
    state = state * exp(A * dt) + (dt * x) B^T      [dim, dstate]
    out   = state @ C + D * x, gated by z * sigmoid(z)

Block 0 is the null block (NULL_BLOCK_ID) carried by CUDA-graph padding
rows: the kernel must neither read nor write it, and must write zeros to the
padding rows of ``out`` (so ``out`` needs no zero-initialisation).
"""

import torch
import triton
import triton.language as tl


@triton.jit
def selective_state_update_kernel(
    state,  # [num_blocks, nheads, dim, dstate], read and written in place
    x,  # [B, nheads, dim]
    dt,  # [B, nheads, dim]
    dt_bias,  # [nheads, dim]
    A,  # [nheads, dim, dstate]
    B,  # [B, ngroups, dstate]
    C,  # [B, ngroups, dstate]
    D,  # [nheads, dim]
    z,  # [B, nheads, dim]
    out,  # [B, nheads, dim]
    state_batch_indices,  # [B]
    nheads,
    dim,
    dstate,
    ngroups,
    stride_state,
    HAS_DT_BIAS: tl.constexpr,
    HAS_D: tl.constexpr,
    HAS_Z: tl.constexpr,
    DT_SOFTPLUS: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    pid_m, pid_b, pid_h = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    mask_m = offs_m < dim
    mask_n = offs_n < dstate
    mask_s = mask_m[:, None] & mask_n[None, :]
    row = pid_b * nheads + pid_h  # (batch, head) row of x / dt / z / out
    p_out = out + row * dim + offs_m

    state_batch_idx = tl.load(state_batch_indices + pid_b).to(tl.int64)
    # A padding row owns no state: emit zeros and touch nothing else.
    if state_batch_idx <= 0:
        tl.store(p_out, tl.zeros([BLOCK_M], dtype=tl.float32).to(out.dtype.element_ty), mask=mask_m)
        return

    p_s = state + state_batch_idx * stride_state + pid_h * dim * dstate
    p_s = p_s + offs_m[:, None] * dstate + offs_n[None, :]
    s = tl.load(p_s, mask=mask_s, other=0.0).to(tl.float32)

    b_x = tl.load(x + row * dim + offs_m, mask=mask_m, other=0.0).to(tl.float32)
    b_dt = tl.load(dt + row * dim + offs_m, mask=mask_m, other=0.0).to(tl.float32)
    if HAS_DT_BIAS:
        b_dt += tl.load(dt_bias + pid_h * dim + offs_m, mask=mask_m, other=0.0).to(tl.float32)
    if DT_SOFTPLUS:
        # linear above 20 where exp would overflow
        b_dt = tl.where(b_dt <= 20.0, tl.log(1.0 + tl.exp(tl.minimum(b_dt, 20.0))), b_dt)
    p_A = A + pid_h * dim * dstate + offs_m[:, None] * dstate + offs_n[None, :]
    b_A = tl.load(p_A, mask=mask_s, other=0.0).to(tl.float32)
    # heads are split evenly over the B/C groups
    grp = pid_b * ngroups + pid_h // (nheads // ngroups)
    b_B = tl.load(B + grp * dstate + offs_n, mask=mask_n, other=0.0).to(tl.float32)
    b_C = tl.load(C + grp * dstate + offs_n, mask=mask_n, other=0.0).to(tl.float32)

    s = s * tl.exp(b_A * b_dt[:, None]) + (b_dt * b_x)[:, None] * b_B[None, :]
    b_out = tl.sum(s * b_C[None, :], axis=1)
    if HAS_D:
        b_out += b_x * tl.load(D + pid_h * dim + offs_m, mask=mask_m, other=0.0).to(tl.float32)
    if HAS_Z:
        b_z = tl.load(z + row * dim + offs_m, mask=mask_m, other=0.0).to(tl.float32)
        b_out *= b_z * tl.sigmoid(b_z)
    tl.store(p_out, b_out.to(out.dtype.element_ty), mask=mask_m)
    # unconditional: only rows that passed the guard above get here
    tl.store(p_s, s.to(state.dtype.element_ty), mask=mask_s)


def selective_state_update_fwd(
    state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=True, state_batch_indices=None, out=None
):
    """Advance ``state[state_batch_indices[b]]`` in place for each row ``b``; returns ``out``.

    x/dt/z ``[B, nheads, dim]``, A ``[nheads, dim, dstate]``, B/C ``[B, ngroups, dstate]``,
    D/dt_bias ``[nheads, dim]``, ``state_batch_indices`` ``[B]`` (required: the pool is shared).
    """
    batch, nheads, dim = x.shape
    dstate = A.shape[-1]
    ngroups = B.shape[1]
    assert state_batch_indices is not None and state_batch_indices.shape == (batch,)
    assert state.shape[1:] == (nheads, dim, dstate) and state[0].is_contiguous()
    assert nheads % ngroups == 0
    if out is None:
        out = torch.empty_like(x)
    assert out.is_contiguous() and out.shape == x.shape
    x, dt, A, B, C = (t.contiguous() for t in (x, dt, A, B, C))
    D, z, dt_bias = (None if t is None else t.contiguous() for t in (D, z, dt_bias))
    BLOCK_M = min(triton.next_power_of_2(dim), 32)
    BLOCK_N = triton.next_power_of_2(dstate)
    selective_state_update_kernel[(triton.cdiv(dim, BLOCK_M), batch, nheads)](
        state,
        x,
        dt,
        dt_bias,
        A,
        B,
        C,
        D,
        z,
        out,
        state_batch_indices.contiguous(),
        nheads,
        dim,
        dstate,
        ngroups,
        state.stride(0),
        HAS_DT_BIAS=dt_bias is not None,
        HAS_D=D is not None,
        HAS_Z=z is not None,
        DT_SOFTPLUS=dt_softplus,
        BLOCK_M=BLOCK_M,
        BLOCK_N=BLOCK_N,
        num_warps=4,
    )
    return out


# ---------------------------------------------------------------- oracle


def selective_state_update_ref(
    state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=True, state_batch_indices=None
):
    """Plain-PyTorch oracle; returns ``(out, new_state)`` and leaves ``state`` untouched."""
    state = state.clone()
    x, dt, A, B, C = (t.float() for t in (x, dt, A, B, C))
    nheads, ngroups = x.shape[1], B.shape[1]
    if dt_bias is not None:
        dt = dt + dt_bias.float()
    if dt_softplus:
        dt = torch.nn.functional.softplus(dt, threshold=20.0)
    B, C = (t.repeat_interleave(nheads // ngroups, dim=1) for t in (B, C))
    out = torch.zeros_like(x)
    for n, blk in enumerate(state_batch_indices.tolist()):
        if blk < 1:  # padding row (null block): zero output, state untouched
            continue
        s = state[blk].float() * torch.exp(A * dt[n][:, :, None]) + (dt[n] * x[n])[:, :, None] * B[n][:, None, :]
        y = (s * C[n][:, None, :]).sum(-1)
        if D is not None:
            y = y + x[n] * D.float()
        if z is not None:
            y = y * torch.nn.functional.silu(z[n].float())
        out[n] = y
        state[blk] = s.to(state.dtype)
    return out, state
