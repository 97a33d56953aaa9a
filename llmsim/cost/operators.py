"""Per-operator FLOPs and bytes moved for one transformer layer (and the LM head) on one GPU."""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from llmsim.cost.model_spec import ModelSpec
from llmsim.cost.precision import Precision


class Op(msgspec.Struct, frozen=True):
    """One operator of an iteration on one GPU: work, traffic, and how often it runs."""

    name: str
    flops: float
    bytes: float
    repeats: int = 1  # num_layers for per-layer operators, 1 for the LM head
    kind: str = "linear"  # linear | attention | elementwise
    rows: float = 0.0  # GEMM rows (tokens) per weight matrix, for tile padding; 0 for non-GEMMs

    @property
    def intensity(self) -> float:
        """Arithmetic intensity in FLOPs per byte."""
        return self.flops / self.bytes if self.bytes else math.inf


class Shard(msgspec.Struct, frozen=True):
    """Per-GPU widths of a model under tensor parallelism `tp`."""

    hidden: int
    q: int
    kv: int
    heads: int
    kv_heads: int
    head_dim: int
    mlp: int
    expert_mlp: int
    shared_mlp: int
    vocab: int
    layers: int
    experts: int
    top_k: int
    mlp_matrices: int


def shard(spec: ModelSpec, tp: int) -> Shard:
    """Split heads, MLP widths and vocabulary over `tp` GPUs (KV heads replicate when tp > kv heads)."""
    kv_heads = max(1, math.ceil(spec.num_kv_heads / tp))
    heads = max(1, math.ceil(spec.num_heads / tp))
    return Shard(
        hidden=spec.hidden_size,
        q=heads * spec.head_dim,
        kv=kv_heads * spec.head_dim,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=spec.head_dim,
        mlp=math.ceil(spec.intermediate_size / tp),
        expert_mlp=math.ceil(spec.moe_intermediate_size / tp),
        shared_mlp=math.ceil(spec.shared_expert_intermediate_size / tp),
        vocab=math.ceil(spec.vocab_size / tp),
        layers=spec.num_layers,
        experts=spec.num_experts,
        top_k=spec.experts_per_token,
        mlp_matrices=spec.mlp_matrices,
    )


def _linear(name: str, tokens: float, d_in: int, d_out: int, p: Precision, reps: int, n_mats: float = 1.0) -> Op:
    """A GEMM of `tokens` rows through `n_mats` weight matrices of d_in x d_out."""
    flops = 2.0 * tokens * d_in * d_out * n_mats
    weights = d_in * d_out * n_mats * p.weight_bytes
    acts = tokens * (d_in + d_out * n_mats) * p.activation_bytes
    return Op(name, flops, weights + acts, reps, "linear", tokens)


def expected_experts_touched(experts: int, top_k: int, tokens: float) -> float:
    """Expected distinct experts chosen by `tokens` tokens each routed to top_k of `experts` uniformly."""
    if experts <= 0 or tokens <= 0:
        return 0.0
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)


def linear_ops(s: Shard, p: Precision, tokens: int, logit_rows: int) -> list[Op]:
    """Operators whose cost depends only on the number of tokens in the iteration (the LM head last)."""
    ops = token_ops(s, p, tokens)
    ops.append(lm_head_op(s, p, logit_rows))
    return ops


def lm_head_op(s: Shard, p: Precision, logit_rows: int) -> Op:
    """The LM head over the rows that sample a token (one per sequence in the batch)."""
    return _linear("lm_head", float(logit_rows), s.hidden, s.vocab, p, 1)


def token_ops(s: Shard, p: Precision, tokens: int) -> list[Op]:
    """The per-token operators of `linear_ops`: everything but the LM head."""
    L, h, t = s.layers, s.hidden, float(tokens)
    act = p.activation_bytes
    ops = [
        Op("input_layernorm", 4.0 * t * h, 2.0 * t * h * act + h * 2, L, "elementwise"),
        _linear("qkv_proj", t, h, s.q + 2 * s.kv, p, L),
        Op("rope", 6.0 * t * (s.q + s.kv), 2.0 * t * (s.q + s.kv) * act, L, "elementwise"),
        _linear("o_proj", t, s.q, h, p, L),
        Op("residual_add", t * h, 3.0 * t * h * act, 2 * L, "elementwise"),
        Op("post_attention_layernorm", 4.0 * t * h, 2.0 * t * h * act + h * 2, L, "elementwise"),
    ]
    ops += _mlp_ops(s, p, t)
    return ops


def _mlp_ops(s: Shard, p: Precision, t: float) -> list[Op]:
    L, h, act = s.layers, s.hidden, p.activation_bytes
    up_mats = s.mlp_matrices - 1
    if s.experts == 0:
        return [
            _linear("mlp_up_proj", t, h, s.mlp, p, L, up_mats),
            Op("mlp_act", 4.0 * t * s.mlp, 3.0 * t * s.mlp * act, L, "elementwise"),
            _linear("mlp_down_proj", t, s.mlp, h, p, L),
        ]
    touched = expected_experts_touched(s.experts, s.top_k, t)
    routed = t * s.top_k  # token-expert pairs
    w = s.expert_mlp
    rows = routed / touched if touched else 0.0  # tokens per touched expert
    up = Op("moe_up_proj", 2.0 * routed * h * w * up_mats,
            touched * h * w * up_mats * p.weight_bytes + routed * (h + w * up_mats) * act, L, "linear", rows)
    down = Op("moe_down_proj", 2.0 * routed * w * h,
              touched * w * h * p.weight_bytes + routed * (w + h) * act, L, "linear", rows)
    ops = [
        _linear("moe_router", t, h, s.experts, p, L),
        up,
        Op("moe_act", 4.0 * routed * w, 3.0 * routed * w * act, L, "elementwise"),
        down,
        Op("moe_combine", 2.0 * routed * h, (routed + t) * h * act, L, "elementwise"),
    ]
    if s.shared_mlp:
        ops.append(_linear("shared_expert_up", t, h, s.shared_mlp, p, L, up_mats))
        ops.append(_linear("shared_expert_down", t, s.shared_mlp, h, p, L))
    return ops


def attention_flops_per_pair(s: Shard) -> float:
    """FLOPs of one (query token, key token) pair over all heads of one layer: QK^T and PV."""
    return 4.0 * s.heads * s.head_dim


def kv_bytes_per_token(s: Shard, p: Precision) -> float:
    """Bytes of K and V for one token in one layer on one GPU."""
    return 2.0 * s.kv * p.kv_bytes


def q_tile_rows(s: Shard, p: Precision, onchip_buffer_bytes: int) -> int:
    """Query rows per flash-attention tile: the buffer holds Q, K, V and output tiles of that height."""
    return max(16, int(onchip_buffer_bytes // (4 * s.head_dim * p.activation_bytes)))


def kv_read_factor(s: Shard, gqa_shared_kv: bool) -> float:
    """Times each K/V element is read from memory per query: 1, or the GQA group size without sharing."""
    return 1.0 if gqa_shared_kv else s.heads / s.kv_heads


def decode_attention_op(s: Shard, p: Precision, num_seqs: int, ctx_sum: int, kv_reads: float = 1.0) -> Op:
    """Decode attention of `num_seqs` single-token queries over ctx+1 keys each (KV read `kv_reads` times)."""
    keys = float(ctx_sum + num_seqs)
    flops = attention_flops_per_pair(s) * keys
    traffic = kv_bytes_per_token(s, p) * kv_reads * keys + 2.0 * num_seqs * s.q * p.activation_bytes
    return Op("attn_decode", flops, traffic, s.layers, "attention")


def prefill_attention_op(
    s: Shard, p: Precision, new: Sequence[int], cached: Sequence[int], onchip_buffer_bytes: int,
    kv_reads: float = 1.0,
) -> Op:
    """Causal prefill attention of chunks (new tokens over cached + new keys), flash-attention tiled."""
    rows = q_tile_rows(s, p, onchip_buffer_bytes)
    group = max(1, s.heads // s.kv_heads)
    kv_tok = kv_bytes_per_token(s, p) * kv_reads
    flops = traffic = 0.0
    for n, c in zip(new, cached):
        if n <= 0:
            continue
        flops += attention_flops_per_pair(s) * (n * c + n * (n + 1) / 2.0)
        tiles = math.ceil(n * group / rows) / group  # query heads sharing a KV head share its tiles
        traffic += max(1.0, tiles) * (c + n) * kv_tok + 2.0 * n * s.q * p.activation_bytes
    return Op("attn_prefill", flops, traffic, s.layers, "attention")
