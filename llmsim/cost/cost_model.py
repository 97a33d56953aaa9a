"""CostModel: roofline time of one serving-engine iteration on one GPU of a tensor-parallel group."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmsim.cost import operators as opmod
from llmsim.cost.calibration import CalibrationProfile, get_profile
from llmsim.cost.hardware import Hardware
from llmsim.cost.model_spec import ModelSpec
from llmsim.cost.operators import Op
from llmsim.cost.precision import Precision
from llmsim.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

_MEMO_LIMIT = 1 << 20  # entries per memo before it is cleared (bounds memory on huge runs)
_TUPLE_MEMO_LIMIT = 1 << 16  # the same for memos keyed by chunk tuples (bigger keys, fewer repeats)
_SCALAR_RUN_MAX = 24  # decode runs up to this length are timed in plain Python (faster than numpy there)
# Largest message vLLM's custom all-reduce takes (its `max_size`, 8 MiB); larger ones go to NCCL.
CUSTOM_ALLREDUCE_MAX_BYTES = 8 * 1024 * 1024
# TP group sizes vLLM's custom all-reduce supports (custom_all_reduce.py's supported world sizes).
CUSTOM_ALLREDUCE_TP = (2, 4, 6, 8, 16)


def custom_all_reduce_possible(interconnect: str, tp: int) -> bool:
    """Whether vLLM's custom all-reduce can run on this TP group: a supported group size, and beyond two
    GPUs a full NVLink mesh (it turns itself off on more than two PCIe-only GPUs and uses NCCL)."""
    return tp in CUSTOM_ALLREDUCE_TP and (tp == 2 or interconnect == "nvlink")


def _int_sum(values: Any) -> int:
    """sum() as a Python int, for int sequences and numpy arrays alike (a compiled build checks the type)."""
    return int(sum(values))


def _int_tuple(values: Any) -> tuple[int, ...]:
    """A tuple of Python ints (the GPU actor's tuples pass as they are; lists and arrays are converted)."""
    if type(values) is tuple:
        return values  # type: ignore[no-any-return]
    return tuple([int(v) for v in values])


class CostModel:
    """Time of iterations of `spec` on `hw` under TP, precision and a calibration profile."""

    def __init__(
        self,
        spec: ModelSpec,
        hw: Hardware,
        *,
        tp: int = 1,
        precision: Precision = Precision(),
        calibration: str | CalibrationProfile | None = "default",
        custom_all_reduce: bool = True,
    ) -> None:
        if tp < 1:
            raise UsageError(f"tensor parallelism must be >= 1, got {tp}", field="--tp")
        self.spec, self.hw, self.tp, self.precision = spec, hw, tp, precision
        if isinstance(calibration, CalibrationProfile):
            self.profile = calibration
        else:
            self.profile = get_profile(calibration, hw.id)
        self.shard = opmod.shard(spec, tp)
        # The engine's custom all-reduce applies when the profile models one, the run did not turn it off
        # and the GPUs can run it.
        custom_all_reduce = custom_all_reduce and custom_all_reduce_possible(hw.interconnect, tp)
        custom_s = self.profile.custom_allreduce_latency_s if custom_all_reduce else None
        self.custom_allreduce_latency_s = (None if custom_s is None
                                           else custom_s + self.profile.custom_allreduce_doubling_latency_s * math.log2(tp))
        self.weight_bytes_per_gpu = self._weight_bytes()
        self.kv_bytes_per_token_per_gpu = int(math.ceil(opmod.kv_bytes_per_token(self.shard, precision) * spec.num_layers))
        self._op_rates: dict[tuple[str, str], tuple[float, float, float]] = {}
        self._init_rates()
        self._linear_memo: dict[tuple[int, int], float] = {}
        self._token_memo: dict[int, float] = {}
        self._lm_head_memo: dict[int, float] = {}
        self._decode_memo: dict[tuple[int, int], int] = {}
        self._mixed_memo: dict[tuple[tuple[int, ...], tuple[int, ...], int, int], int] = {}
        self._prefill_memo: dict[tuple[tuple[int, ...], tuple[int, ...]], float] = {}

    # ----- static figures -------------------------------------------------------------------
    def _weight_bytes(self) -> int:
        s, spec = self.shard, self.spec
        mlp = s.mlp_matrices * s.hidden * (s.experts * s.expert_mlp if s.experts else s.mlp)
        mlp += s.mlp_matrices * s.hidden * s.shared_mlp + s.hidden * s.experts
        attn = s.hidden * (2 * s.q + 2 * s.kv)
        layer = attn + mlp
        tables = 1 if spec.tie_word_embeddings else 2
        quantised = spec.num_layers * layer + tables * s.vocab * s.hidden
        norms = (2 * spec.num_layers + 1) * s.hidden * 2
        return int(math.ceil(quantised * self.precision.weight_bytes)) + norms

    def activation_bytes_per_gpu(self, max_batched_tokens: int, max_num_seqs: int = 256) -> int:
        """Peak activation workspace of a forward pass over `max_batched_tokens` tokens (vLLM's memory
        profiling run, whose sampler holds fp32 logits for one token of each of up to `max_num_seqs`)."""
        s, act = self.shard, self.precision.activation_bytes
        mlp = s.expert_mlp * max(1, s.top_k) if s.experts else s.mlp
        width = 2 * s.hidden + s.q + 2 * s.kv + s.mlp_matrices * mlp
        logits = min(max_batched_tokens, max_num_seqs) * s.vocab * 4  # fp32 logits
        return int(math.ceil(max_batched_tokens * width * act)) + logits

    # ----- rates ----------------------------------------------------------------------------
    def _init_rates(self) -> None:
        p = self.precision
        self.peak_flops = self._gemm_peak()
        # Decode attention is linear in keys: per layer max(f * keys, b * keys + q * seqs) + fixed.
        probe = opmod.decode_attention_op(self.shard, p, 1, 0)
        flops_per_s, bytes_per_s, self._dec_fixed_s = self.op_rates(probe)
        self._dec_flops_coef = opmod.attention_flops_per_pair(self.shard) / flops_per_s
        self.kv_reads = opmod.kv_read_factor(self.shard, self.profile.gqa_shared_kv)
        self._dec_bytes_coef = opmod.kv_bytes_per_token(self.shard, p) * self.kv_reads / bytes_per_s
        self._dec_seq_coef = 2.0 * self.shard.q * p.activation_bytes / bytes_per_s

    def _gemm_peak(self) -> float:
        p, hw = self.precision, self.hw
        if p.activation_bits <= 8 and p.weight_bits <= 8:
            if p.int_compute and hw.peak_int8_flops > 0:
                return hw.peak_int8_flops
            if not p.int_compute and hw.peak_fp8_flops > 0:
                return hw.peak_fp8_flops
        return hw.peak_fp16_flops

    # ----- per-operator time -----------------------------------------------------------------
    def op_rates(self, op: Op) -> tuple[float, float, float]:
        """(FLOP/s, bytes/s, fixed s) for `op`: per-operator fitted values, else profile-wide ones."""
        key = (op.name, op.kind)
        rates = self._op_rates.get(key)
        if rates is None:
            rates = self._compute_rates(op)
            self._op_rates[key] = rates
        return rates

    def _compute_rates(self, op: Op) -> tuple[float, float, float]:
        prof = self.profile
        over = prof.operators.get(op.name)
        ce = over.compute_efficiency if over else prof.compute_efficiency
        me = over.memory_efficiency if over else prof.memory_efficiency
        fixed = over.kernel_overhead_s if over else prof.kernel_overhead_s
        if op.kind == "attention":
            return (self.hw.peak_fp16_flops * ce * prof.attention_efficiency,
                    self.hw.hbm_bandwidth_bytes_per_s * me * prof.attention_efficiency, fixed)
        peak = self.peak_flops if op.kind == "linear" else self.hw.peak_fp16_flops
        return peak * ce, self.hw.hbm_bandwidth_bytes_per_s * me, fixed

    def padded_flops(self, op: Op) -> float:
        """FLOPs with GEMM rows padded up to the profile's token tile."""
        tile = self.profile.token_tile
        if tile <= 1 or op.rows <= 0:
            return op.flops
        return op.flops * (math.ceil(op.rows / tile) * tile / op.rows)

    def op_time_s(self, op: Op) -> float:
        """One execution of `op`: max(compute, memory) plus the fixed kernel overhead."""
        flops_per_s, bytes_per_s, fixed_s = self.op_rates(op)
        return max(self.padded_flops(op) / flops_per_s, op.bytes / bytes_per_s) + fixed_s

    def allreduce_s(self, tokens: int) -> float:
        """One all-reduce of the hidden states of `tokens` tokens across the TP group.

        Messages up to CUSTOM_ALLREDUCE_MAX_BYTES go through the engine's custom kernel when there is
        one (every GPU reads its peers' buffers directly: a fixed latency and one per doubling of the
        group, no ring steps); larger ones,
        or all of them without it, through an NCCL ring (a latency per step, 2 (tp - 1) steps).
        Both move 2 (tp - 1) / tp of the message per GPU.
        """
        if self.tp == 1:
            return 0.0
        size_bytes = tokens * self.shard.hidden * self.precision.activation_bytes
        bw = self.hw.interconnect_bandwidth_bytes_per_s * self.profile.allreduce_efficiency
        steps = 2.0 * (self.tp - 1)  # reduce-scatter then all-gather
        transfer_s = steps / self.tp * size_bytes / bw
        if self.custom_allreduce_latency_s is not None and size_bytes <= CUSTOM_ALLREDUCE_MAX_BYTES:
            return self.custom_allreduce_latency_s + transfer_s
        latency_s = self.profile.allreduce_latency_s
        if latency_s is None:
            latency_s = self.hw.interconnect_latency_s
        return latency_s + steps * self.profile.allreduce_step_latency_s + transfer_s

    def _overhead_s(self, seqs: int) -> float:
        """Fixed costs of one iteration: per iteration, per layer and per sequence."""
        prof = self.profile
        return prof.iteration_overhead_s + prof.per_layer_overhead_s * self.spec.num_layers + prof.per_seq_overhead_s * seqs

    def _fixed_s(self, tokens: int, seqs: int) -> float:
        """Everything that depends only on token and sequence counts: linear ops, all-reduces, overheads."""
        key = (tokens, seqs)
        cached = self._linear_memo.get(key)
        if cached is not None:
            return cached
        # The sum over linear_ops in its order, with the per-token part and the LM head memoised
        # apart (mixed batches repeat token counts far more often than (tokens, seqs) pairs).
        total = self._token_ops_s(tokens)
        total += self._lm_head_s(seqs)
        total += 2 * self.spec.num_layers * self.allreduce_s(tokens)
        total += self._overhead_s(seqs)
        if len(self._linear_memo) > _MEMO_LIMIT:
            self._linear_memo.clear()
        self._linear_memo[key] = total
        return total

    def _token_ops_s(self, tokens: int) -> float:
        """Sum of the per-token operators' times (all layers), accumulated from 0.0 in order."""
        cached = self._token_memo.get(tokens)
        if cached is None:
            cached = 0.0
            for op in opmod.token_ops(self.shard, self.precision, tokens):
                cached += op.repeats * self.op_time_s(op)
            if len(self._token_memo) > _MEMO_LIMIT:
                self._token_memo.clear()
            self._token_memo[tokens] = cached
        return cached

    def _lm_head_s(self, rows: int) -> float:
        """The LM head's time for `rows` sampling rows."""
        cached = self._lm_head_memo.get(rows)
        if cached is None:
            op = opmod.lm_head_op(self.shard, self.precision, rows)
            cached = self._lm_head_memo[rows] = op.repeats * self.op_time_s(op)
        return cached

    # ----- iterations -------------------------------------------------------------------------
    def _decode_s(self, seqs: int, ctx_sum):  # noqa: ANN001, ANN202 - float or ndarray in and out
        """Decode-only iteration seconds; identical arithmetic for scalars and numpy arrays."""
        import numpy as np

        return self._fixed_s(seqs, seqs) + self._decode_layers_s(ctx_sum + seqs, seqs, np.maximum)

    def _decode_layers_s(self, keys, seqs: int, maximum):  # noqa: ANN001, ANN202 - float or ndarray
        """Decode attention of all layers over `keys` cached+new keys: the one formula of every path.

        `maximum` is `max` for a float and `np.maximum` for an array; both do the same IEEE
        operations in the same order, so step mode, fast-forward and mixed iterations agree bit for bit.
        """
        attn = maximum(keys * self._dec_flops_coef, keys * self._dec_bytes_coef + seqs * self._dec_seq_coef)
        return (attn + self._dec_fixed_s) * self.spec.num_layers

    @staticmethod
    def _to_ns(seconds):  # noqa: ANN001, ANN205
        import numpy as np

        return np.maximum(np.rint(np.asarray(seconds, dtype=np.float64) * 1e9), 1.0).astype(np.int64)

    def decode_ns(self, seqs: int, ctx_sum: int) -> int:
        """Memoised decode-only iteration of `seqs` sequences whose cached contexts sum to `ctx_sum`."""
        key = (seqs, ctx_sum)
        cached = self._decode_memo.get(key)
        if cached is None:
            cached = self._decode_scalar_ns(seqs, ctx_sum, 1)[0]
            if len(self._decode_memo) > _MEMO_LIMIT:
                self._decode_memo.clear()
            self._decode_memo[key] = cached
        return cached

    def iteration_ns(
        self, prefill_new: Sequence[int], prefill_cached: Sequence[int], decode_ctx: Sequence[int]
    ) -> int:
        """Nanoseconds of one mixed iteration: prefill chunks plus decode sequences (never empty)."""
        seqs = len(decode_ctx)
        ctx_sum = _int_sum(decode_ctx)
        if len(prefill_new) == 0:
            return self.decode_ns(seqs, ctx_sum)
        key = (_int_tuple(prefill_new), _int_tuple(prefill_cached), seqs, ctx_sum)
        cached = self._mixed_memo.get(key)
        if cached is None:
            cached = self._mixed_ns(key[0], key[1], seqs, ctx_sum)
            if len(self._mixed_memo) > _TUPLE_MEMO_LIMIT:
                self._mixed_memo.clear()
            self._mixed_memo[key] = cached
        return cached

    def _mixed_ns(self, new: tuple[int, ...], cached: tuple[int, ...], seqs: int, ctx_sum: int) -> int:
        if len(new) != len(cached):
            raise UsageError("prefill_new and prefill_cached differ in length")
        tokens = _int_sum(new) + seqs
        total = self._fixed_s(tokens, seqs + len(new))
        total += self.spec.num_layers * self._prefill_attention_s(new, cached)
        if seqs:
            total += self._decode_layers_s(float(ctx_sum + seqs), seqs, max)
        return max(1, int(round(total * 1e9)))

    def _prefill_attention_s(self, new: tuple[int, ...], cached: tuple[int, ...]) -> float:
        """Memoised time of one layer's prefill attention over these chunks.

        Mixed iterations rarely repeat whole (their decode contexts differ), but their prefill
        chunks often do: a prompt of the same length, nothing cached.
        """
        key = (new, cached)
        attn_s = self._prefill_memo.get(key)
        if attn_s is None:
            op = opmod.prefill_attention_op(
                self.shard, self.precision, new, cached, self.hw.onchip_buffer_bytes, self.kv_reads)
            attn_s = self.op_time_s(op)
            if len(self._prefill_memo) > _TUPLE_MEMO_LIMIT:
                self._prefill_memo.clear()
            self._prefill_memo[key] = attn_s
        return attn_s

    def decode_run_ns(self, decode_ctx: np.ndarray, k: int) -> np.ndarray:
        """Per-iteration ns of k decode iterations with contexts growing by 1 each (bit-equal to step mode)."""
        import numpy as np

        ctx = np.asarray(decode_ctx, dtype=np.int64)
        seqs = int(ctx.size)
        ctx_sums = int(ctx.sum()) + seqs * np.arange(k, dtype=np.int64)
        return self._to_ns(self._decode_s(seqs, ctx_sums))

    def decode_run_list(self, decode_ctx: Sequence[int], k: int) -> list[int]:
        """`decode_run_ns` as a list; short runs in plain Python with the same IEEE operations.

        Most runs are short (a batch changes every few iterations), and a dozen numpy calls
        cost more than the arithmetic; the float64 operations and round-half-even rounding
        are the same in both paths, so the times are bit-equal.
        """
        if k > _SCALAR_RUN_MAX:
            return self.decode_run_ns(decode_ctx, k).tolist()  # type: ignore[arg-type]
        return self._decode_scalar_ns(len(decode_ctx), _int_sum(decode_ctx), k)

    def _decode_scalar_ns(self, seqs: int, ctx_sum: int, k: int) -> list[int]:
        """`_to_ns(_decode_s(seqs, ctx_sum + seqs * arange(k)))` in plain Python, bit for bit."""
        fixed = self._fixed_s(seqs, seqs)
        return [max(round((fixed + self._decode_layers_s(float(ctx_sum + seqs * i + seqs), seqs, max)) * 1e9), 1)
                for i in range(k)]

    # ----- conveniences -----------------------------------------------------------------------
    def prefill_s(self, batch: int, input_len: int) -> float:
        """Seconds of one iteration prefilling `batch` prompts of `input_len` tokens each."""
        return self.iteration_ns([input_len] * batch, [0] * batch, []) / 1e9

    def decode_step_s(self, batch: int, context_len: int) -> float:
        """Seconds of one decode iteration of `batch` sequences with `context_len` cached tokens each."""
        return self.decode_ns(batch, batch * context_len) / 1e9

    def breakdown_s(
        self, prefill_new: Sequence[int], prefill_cached: Sequence[int], decode_ctx: Sequence[int]
    ) -> dict[str, float]:
        """Seconds per operator (all layers), all-reduces and overheads of one iteration."""
        out: dict[str, float] = {}
        for op in self.breakdown(prefill_new, prefill_cached, decode_ctx):
            out[op.name] = out.get(op.name, 0.0) + op.repeats * self.op_time_s(op)
        tokens = _int_sum(prefill_new) + len(decode_ctx)
        out["tp_allreduce"] = 2 * self.spec.num_layers * self.allreduce_s(tokens)
        seqs = len(decode_ctx) + len(prefill_new)
        out["iteration_overhead"] = self._overhead_s(seqs)
        return out

    def breakdown(
        self, prefill_new: Sequence[int], prefill_cached: Sequence[int], decode_ctx: Sequence[int]
    ) -> list[Op]:
        """The operators of one iteration (per-layer ops once, with `repeats`), attention included."""
        seqs = len(decode_ctx)
        tokens = _int_sum(prefill_new) + seqs
        ops = opmod.linear_ops(self.shard, self.precision, tokens, seqs + len(prefill_new))
        if len(prefill_new):
            ops.append(opmod.prefill_attention_op(self.shard, self.precision, prefill_new, prefill_cached,
                                                  self.hw.onchip_buffer_bytes, self.kv_reads))
        if seqs:
            ops.append(opmod.decode_attention_op(self.shard, self.precision, seqs, _int_sum(decode_ctx),
                                                 self.kv_reads))
        return ops
