"""Fused sigmoid-gating delta-rule update with continuous batching.

Same recurrence as ``gated_delta_rule`` but the gates are computed in the
kernel from raw projections, as in Qwen3-Next style linear attention:
``g = -exp(A_log) * softplus(a + dt_bias)`` and ``beta = sigmoid(b)``.

State pool ``state[num_blocks, HV, V, K]`` (fp32); row ``n`` starts from
``state[ssm_state_indices[n, 0]]`` and stores after token ``t`` into
``state[ssm_state_indices[n, t]]`` (1-D indices: one slot per row).
Block 0 is the null block (NULL_BLOCK_ID) carried by CUDA-graph padding
rows: it must be neither read nor written, and padding rows must output zeros.
"""

import torch
import triton
import triton.language as tl


@triton.jit(do_not_specialize=["T"])
def fused_sigmoid_gating_delta_rule_kernel(
    A_log,  # [HV]
    a,  # [B, T, HV]
    b,  # [B, T, HV]
    dt_bias,  # [HV]
    q,  # [B, T, H, K]
    k,  # [B, T, H, K]
    v,  # [B, T, HV, V]
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
    SOFTPLUS_THRESHOLD: tl.constexpr,
    USE_QK_L2NORM: tl.constexpr,
    IS_VARLEN: tl.constexpr,
):
    i_v, i_nh = tl.program_id(0), tl.program_id(1)
    i_n, i_hv = i_nh // HV, i_nh % HV
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
    # per-head constants; fp32 so that exp(A_log) cannot overflow in fp16
    b_A = tl.exp(tl.load(A_log + i_hv).to(tl.float32))
    b_dt_bias = tl.load(dt_bias + i_hv).to(tl.float32)

    for i_t in range(seq_len):
        tok = bos + i_t
        b_q = tl.load(q + (tok * H + i_h) * K + o_k, mask=mask_k, other=0).to(tl.float32)
        b_k = tl.load(k + (tok * H + i_h) * K + o_k, mask=mask_k, other=0).to(tl.float32)
        b_v = tl.load(v + (tok * HV + i_hv) * V + o_v, mask=mask_v, other=0).to(tl.float32)
        x = tl.load(a + tok * HV + i_hv).to(tl.float32) + b_dt_bias
        # softplus, linear above the threshold where exp would overflow
        softplus_x = tl.where(x <= SOFTPLUS_THRESHOLD, tl.log(1.0 + tl.exp(tl.minimum(x, SOFTPLUS_THRESHOLD))), x)
        b_g = -b_A * softplus_x
        b_beta = tl.sigmoid(tl.load(b + tok * HV + i_hv).to(tl.float32))
        if USE_QK_L2NORM:
            b_q = b_q / tl.sqrt(tl.sum(b_q * b_q) + 1e-6)
            b_k = b_k / tl.sqrt(tl.sum(b_k * b_k) + 1e-6)

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


def fused_sigmoid_gating_delta_rule_update(
    A_log, a, b, dt_bias, q, k, v, state, ssm_state_indices, cu_seqlens=None, scale=None, use_qk_l2norm=False
):
    """Gate and update every row; updates ``state`` in place and returns ``o`` ``[B, T, HV, V]``.

    a/b ``[B, T, HV]``, A_log/dt_bias ``[HV]``, q/k ``[B, T, H, K]``, v ``[B, T, HV, V]``;
    varlen: ``B == 1`` with ``cu_seqlens`` ``[N + 1]``.
    """
    B, T, H, K = k.shape
    HV, V = v.shape[2], v.shape[3]
    assert HV % H == 0 and state.shape[1:] == (HV, V, K) and state.stride(-1) == 1
    if cu_seqlens is not None:
        assert B == 1, "flatten varlen batches to B == 1"
    N = B if cu_seqlens is None else cu_seqlens.numel() - 1
    if ssm_state_indices.ndim == 1:
        stride_seq, stride_tok = ssm_state_indices.stride(0), 0
    else:
        stride_seq, stride_tok = ssm_state_indices.stride()
    scale = K**-0.5 if scale is None else scale
    A_log, a, b, dt_bias, q, k, v = (t.contiguous() for t in (A_log, a, b, dt_bias, q, k, v))
    o = torch.empty_like(v)
    BK = triton.next_power_of_2(K)
    BV = min(triton.next_power_of_2(V), 32)
    fused_sigmoid_gating_delta_rule_kernel[(triton.cdiv(V, BV), N * HV)](
        A_log,
        a,
        b,
        dt_bias,
        q,
        k,
        v,
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
        SOFTPLUS_THRESHOLD=20.0,
        USE_QK_L2NORM=use_qk_l2norm,
        IS_VARLEN=cu_seqlens is not None,
        num_warps=1,
    )
    return o


# ---------------------------------------------------------------- oracle


def fused_sigmoid_gating_delta_rule_update_ref(
    A_log, a, b, dt_bias, q, k, v, state, ssm_state_indices, cu_seqlens=None, scale=None, use_qk_l2norm=False
):
    """Plain-PyTorch oracle; returns ``(o, new_state)`` and leaves ``state`` untouched."""
    B, T, H, K = k.shape
    HV = v.shape[2]
    scale = K**-0.5 if scale is None else scale
    state = state.clone()
    q, k, v, a, b = (t.float().reshape(B * T, *t.shape[2:]) for t in (q, k, v, a, b))
    if use_qk_l2norm:
        q, k = (t / torch.sqrt((t * t).sum(-1, keepdim=True) + 1e-6) for t in (q, k))
    q, k = (t.repeat_interleave(HV // H, dim=1) for t in (q, k))
    g = -torch.exp(A_log.float()) * torch.nn.functional.softplus(a + dt_bias.float(), threshold=20.0)
    beta = torch.sigmoid(b)
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
            i = bos + t
            h = h * torch.exp(g[i])[:, None, None]
            delta = (v[i] - torch.einsum("hvk,hk->hv", h, k[i])) * beta[i][:, None]
            h = h + delta[:, :, None] * k[i][:, None, :]
            o[i] = torch.einsum("hvk,hk->hv", h, q[i] * scale)
            dst = row[t] if len(row) > 1 else row[0]
            if dst >= 1:
                state[dst] = h.to(state.dtype)
    return o.view(B, T, HV, -1), state
