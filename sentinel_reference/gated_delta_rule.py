"""Fused recurrent gated delta rule (forward) with continuous batching.

The recurrent state lives in a pool ``state[num_blocks, HV, V, K]`` (fp32).
Batch row ``n`` starts from ``state[ssm_state_indices[n, 0]]`` and writes the
state reached after its token ``t`` to ``state[ssm_state_indices[n, t]]``; a
1-D index tensor means one slot per row (every token rewrites the same slot).

Block 0 is the null block (NULL_BLOCK_ID): CUDA-graph padding rows carry it
and no real sequence owns it, so the kernels must neither read nor write it.
Padding rows must get an all-zero output.
"""

import torch
import triton
import triton.language as tl


@triton.jit(do_not_specialize=["T"])
def fused_recurrent_gdr_fwd_kernel(
    q,  # [B, T, H, K]
    k,  # [B, T, H, K]
    v,  # [B, T, HV, V]
    g,  # [B, T, HV] log-space decay
    beta,  # [B, T, HV]
    o,  # [B, T, HV, V]
    state,  # [num_blocks, HV, V, K], read and written in place
    cu_seqlens,  # [N + 1] when IS_VARLEN (then B == 1)
    ssm_state_indices,  # [N] or [N, T_max]
    scale,
    T,
    stride_state,
    stride_indices_seq,
    stride_indices_tok,
    H: tl.constexpr,
    HV: tl.constexpr,
    K: tl.constexpr,
    V: tl.constexpr,
    BK: tl.constexpr,
    BV: tl.constexpr,
    IS_VARLEN: tl.constexpr,
):
    i_v, i_nh = tl.program_id(0), tl.program_id(1)
    i_n, i_hv = i_nh // HV, i_nh % HV
    # grouped-value attention: HV // H value heads share one q/k head
    i_h = i_hv // (HV // H)
    if IS_VARLEN:
        bos = tl.load(cu_seqlens + i_n).to(tl.int64)
        seq_len = tl.load(cu_seqlens + i_n + 1).to(tl.int64) - bos
    else:
        bos = i_n.to(tl.int64) * T
        seq_len = T

    o_k = tl.arange(0, BK)
    o_v = i_v * BV + tl.arange(0, BV)
    mask_k = o_k < K
    mask_v = o_v < V
    mask_h = mask_v[:, None] & mask_k[None, :]
    # offsets of this program's [BV, BK] tile inside one state block
    o_h = i_hv * V * K + o_v[:, None] * K + o_k[None, :]

    p_idx = ssm_state_indices + i_n * stride_indices_seq
    state_idx = tl.load(p_idx).to(tl.int64)
    # A padding row owns no state: emit zeros and touch nothing else.
    if state_idx <= 0:
        for i_t in range(seq_len):
            p_o = o + ((bos + i_t) * HV + i_hv) * V + o_v
            tl.store(p_o, tl.zeros([BV], dtype=tl.float32).to(o.dtype.element_ty), mask=mask_v)
        return

    b_h = tl.load(state + state_idx * stride_state + o_h, mask=mask_h, other=0).to(tl.float32)

    for i_t in range(seq_len):
        tok = bos + i_t
        b_q = tl.load(q + (tok * H + i_h) * K + o_k, mask=mask_k, other=0).to(tl.float32)
        b_k = tl.load(k + (tok * H + i_h) * K + o_k, mask=mask_k, other=0).to(tl.float32)
        b_v = tl.load(v + (tok * HV + i_hv) * V + o_v, mask=mask_v, other=0).to(tl.float32)
        b_g = tl.load(g + tok * HV + i_hv).to(tl.float32)
        b_beta = tl.load(beta + tok * HV + i_hv).to(tl.float32)

        # decay, then delta-rule correction of the value the state predicts for k
        b_h *= tl.exp(b_g)
        b_v -= tl.sum(b_h * b_k[None, :], 1)
        b_v *= b_beta
        b_h += b_v[:, None] * b_k[None, :]
        b_o = tl.sum(b_h * (b_q * scale)[None, :], 1)
        p_o = o + (tok * HV + i_hv) * V + o_v
        tl.store(p_o, b_o.to(o.dtype.element_ty), mask=mask_v)

        final_state_idx = tl.load(p_idx + i_t * stride_indices_tok).to(tl.int64)
        # draft-token slots past what the scheduler granted are padded too
        if final_state_idx > 0:
            p_ht = state + final_state_idx * stride_state + o_h
            tl.store(p_ht, b_h.to(state.dtype.element_ty), mask=mask_h)


@triton.jit
def packed_decode_gdr_kernel(
    mixed_qkv,  # [B, 2 * H * K + HV * V]: q | k | v of one token per row
    g,  # [B, HV]
    beta,  # [B, HV]
    o,  # [B, HV, V]
    state,  # [num_blocks, HV, V, K]
    ssm_state_indices,  # [B]
    scale,
    stride_qkv,
    stride_state,
    stride_indices,
    H: tl.constexpr,
    HV: tl.constexpr,
    K: tl.constexpr,
    V: tl.constexpr,
    BK: tl.constexpr,
    BV: tl.constexpr,
):
    i_v, i_nh = tl.program_id(0), tl.program_id(1)
    i_n, i_hv = i_nh // HV, i_nh % HV
    i_h = i_hv // (HV // H)

    o_k = tl.arange(0, BK)
    o_v = i_v * BV + tl.arange(0, BV)
    mask_k = o_k < K
    mask_v = o_v < V
    mask_h = mask_v[:, None] & mask_k[None, :]
    p_o = o + (i_n * HV + i_hv) * V + o_v

    state_idx = tl.load(ssm_state_indices + i_n * stride_indices).to(tl.int64)
    # A padding row owns no state: emit zeros and touch nothing else.
    if state_idx <= 0:
        tl.store(p_o, tl.zeros([BV], dtype=tl.float32).to(o.dtype.element_ty), mask=mask_v)
        return

    p_h = state + state_idx * stride_state + i_hv * V * K + o_v[:, None] * K + o_k[None, :]
    b_h = tl.load(p_h, mask=mask_h, other=0).to(tl.float32)

    p_row = mixed_qkv + i_n * stride_qkv
    b_q = tl.load(p_row + i_h * K + o_k, mask=mask_k, other=0).to(tl.float32)
    b_k = tl.load(p_row + H * K + i_h * K + o_k, mask=mask_k, other=0).to(tl.float32)
    b_v = tl.load(p_row + 2 * H * K + i_hv * V + o_v, mask=mask_v, other=0).to(tl.float32)
    b_g = tl.load(g + i_n * HV + i_hv).to(tl.float32)
    b_beta = tl.load(beta + i_n * HV + i_hv).to(tl.float32)

    b_h *= tl.exp(b_g)
    b_v -= tl.sum(b_h * b_k[None, :], 1)
    b_v *= b_beta
    b_h += b_v[:, None] * b_k[None, :]
    b_o = tl.sum(b_h * (b_q * scale)[None, :], 1)
    tl.store(p_o, b_o.to(o.dtype.element_ty), mask=mask_v)
    # unconditional: only rows that passed the guard above get here
    tl.store(p_h, b_h.to(state.dtype.element_ty), mask=mask_h)


def _tiles(K, V):
    BK = triton.next_power_of_2(K)
    BV = min(triton.next_power_of_2(V), 32)
    return BK, BV, triton.cdiv(V, BV)


def fused_recurrent_gated_delta_rule(q, k, v, g, beta, state, ssm_state_indices, cu_seqlens=None, scale=None):
    """Run the recurrence for every row; updates ``state`` in place and returns ``o``.

    Fixed length: q/k ``[B, T, H, K]``, v ``[B, T, HV, V]``, g/beta ``[B, T, HV]``.
    Varlen: same with ``B == 1`` and ``cu_seqlens`` ``[N + 1]`` (int32/int64).
    ``ssm_state_indices``: ``[N]`` or ``[N, T_max]`` integer block ids.
    """
    B, T, H, K = k.shape
    HV, V = v.shape[2], v.shape[3]
    assert HV % H == 0 and state.shape[1:] == (HV, V, K) and state.stride(-1) == 1
    if cu_seqlens is not None:
        assert B == 1, "flatten varlen batches to B == 1"
    N = B if cu_seqlens is None else cu_seqlens.numel() - 1
    if ssm_state_indices.ndim == 1:
        # every token of a row writes its single slot; the last write wins
        stride_seq, stride_tok = ssm_state_indices.stride(0), 0
    else:
        stride_seq, stride_tok = ssm_state_indices.stride()
    scale = K**-0.5 if scale is None else scale
    q, k, v, g, beta = (t.contiguous() for t in (q, k, v, g, beta))
    o = torch.empty_like(v)
    BK, BV, NV = _tiles(K, V)
    fused_recurrent_gdr_fwd_kernel[(NV, N * HV)](
        q,
        k,
        v,
        g,
        beta,
        o,
        state,
        cu_seqlens,
        ssm_state_indices,
        scale,
        T,
        state.stride(0),
        stride_seq,
        stride_tok,
        H=H,
        HV=HV,
        K=K,
        V=V,
        BK=BK,
        BV=BV,
        IS_VARLEN=cu_seqlens is not None,
        num_warps=1,
    )
    return o


def packed_decode_gated_delta_rule(mixed_qkv, g, beta, state, ssm_state_indices, out=None, scale=None):
    """One decode token per row, q/k/v packed in ``mixed_qkv``; updates ``state`` in place.

    ``mixed_qkv`` ``[B, 2*H*K + HV*V]``, g/beta ``[B, HV]``, ``ssm_state_indices`` ``[B]``.
    Returns ``out`` ``[B, HV, V]`` (allocated when not given).
    """
    B = mixed_qkv.shape[0]
    HV, V, K = state.shape[1:]
    H = (mixed_qkv.shape[1] - HV * V) // (2 * K)
    assert 2 * H * K + HV * V == mixed_qkv.shape[1] and HV % H == 0
    assert mixed_qkv.stride(1) == 1 and state.stride(-1) == 1 and ssm_state_indices.ndim == 1
    if out is None:
        out = mixed_qkv.new_empty(B, HV, V)
    assert out.is_contiguous() and out.shape == (B, HV, V)
    g, beta = g.contiguous(), beta.contiguous()
    scale = K**-0.5 if scale is None else scale
    BK, BV, NV = _tiles(K, V)
    packed_decode_gdr_kernel[(NV, B * HV)](
        mixed_qkv,
        g,
        beta,
        out,
        state,
        ssm_state_indices,
        scale,
        mixed_qkv.stride(0),
        state.stride(0),
        ssm_state_indices.stride(0),
        H=H,
        HV=HV,
        K=K,
        V=V,
        BK=BK,
        BV=BV,
        num_warps=1,
    )
    return out


# ---------------------------------------------------------------- oracles


def _gdr_step(h, q, k, v, g, beta, scale):
    """One token for all value heads; h [HV, V, K], q/k [HV, K], v [HV, V], g/beta [HV]."""
    h = h * torch.exp(g)[:, None, None]
    v = (v - torch.einsum("hvk,hk->hv", h, k)) * beta[:, None]
    h = h + v[:, :, None] * k[:, None, :]
    return h, torch.einsum("hvk,hk->hv", h, q * scale)


def fused_recurrent_gated_delta_rule_ref(q, k, v, g, beta, state, ssm_state_indices, cu_seqlens=None, scale=None):
    """Plain-PyTorch oracle; returns ``(o, new_state)`` and leaves ``state`` untouched."""
    B, T, H, K = k.shape
    HV = v.shape[2]
    scale = K**-0.5 if scale is None else scale
    state = state.clone()
    f32 = [t.float().reshape(B * T, *t.shape[2:]) for t in (q, k, v, g, beta)]
    q, k, v, g, beta = f32
    q, k = (t.repeat_interleave(HV // H, dim=1) for t in (q, k))
    o = torch.zeros_like(v)
    if cu_seqlens is None:
        spans = [(n * T, T) for n in range(B)]
    else:
        cu = cu_seqlens.tolist()
        spans = [(cu[n], cu[n + 1] - cu[n]) for n in range(len(cu) - 1)]
    idx = ssm_state_indices.view(len(spans), -1).tolist()
    for n, (bos, seq_len) in enumerate(spans):
        row = idx[n]
        if row[0] < 1:  # padding row (null block): zero output, state untouched
            continue
        h = state[row[0]].float()
        for t in range(seq_len):
            h, o[bos + t] = _gdr_step(h, q[bos + t], k[bos + t], v[bos + t], g[bos + t], beta[bos + t], scale)
            dst = row[t] if len(row) > 1 else row[0]
            if dst >= 1:
                state[dst] = h.to(state.dtype)
    return o.view(B, T, HV, -1), state


def packed_decode_gated_delta_rule_ref(mixed_qkv, g, beta, state, ssm_state_indices, scale=None):
    """Plain-PyTorch oracle for the packed decode kernel; returns ``(out, new_state)``."""
    B = mixed_qkv.shape[0]
    HV, V, K = state.shape[1:]
    H = (mixed_qkv.shape[1] - HV * V) // (2 * K)
    x = mixed_qkv.float()
    q = x[:, : H * K].view(B, 1, H, K)
    k = x[:, H * K : 2 * H * K].view(B, 1, H, K)
    v = x[:, 2 * H * K :].view(B, 1, HV, V)
    o, state = fused_recurrent_gated_delta_rule_ref(
        q, k, v, g.view(B, 1, HV), beta.view(B, 1, HV), state, ssm_state_indices, scale=scale
    )
    return o.view(B, HV, V), state
