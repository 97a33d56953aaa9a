"""What to simulate for a measured row: model, GPU, engine limits, workload and which statistic.

Rows with equal `Scenario`s share one simulation (a stage's TTFT p50 and E2E p50 come from the
same run). Every assumption below is also printed with the row (`Scenario.conditions`).

Workload, from `arrival` / `arrival_value`:
- `offline`, `static batch N`: N requests at t=0 and max_num_seqs=N (vLLM's benchmark_latency).
  The measured value is the latency of the whole batch, so the prediction is the last request's
  end-to-end time (for e2e_p50_s and e2e_mean_s alike).
- `offline`, `all N at once`: N requests at t=0 under the engine's own limits
  (benchmark_throughput); throughput_req_s = N / makespan.
- `qps`, `R (constant-interval)`: constant arrivals at R req/s; `R (Poisson)`: Poisson arrivals,
  seed 0 (a rate without either word is taken as Poisson, vLLM benchmark_serving's default).
  The count is the dataset's `N prompts` when it gives one, else `duration_s` of arrivals
  (300 s by default). Percentiles cover every request, the first seconds of an empty engine
  included (not excluded: replay's stats hold no per-request data). 300 s keeps the p50 stable:
  under the 2023 default calibration the unsaturated INFSIM stages' E2E p50 at 60 / 120 / 300 /
  600 s of arrivals were 11.7 / 13.1 / 13.8 / 13.8 s (7B at 8/s) and 16.1 / 17.2 / 17.4 / 17.4 s
  (34B at 6/s); the measured stages ran 600-1200 s. Where llmsim saturates and the engine did
  not, the queue, and so the TTFT error, grows with the duration.
- `concurrency`, `1`: one request alone (each request of a one-client loop runs alone);
  decode_tok_s_per_request = 1 / TPOT.
- `concurrency`, `N` > 1: a closed loop of N clients (replay's `--concurrency`, no think
  time), each sending its next request when its previous one ends, 10 x N requests in all
  (the N that start together at t=0 are included in the percentiles).

Lengths: `input_len` / `output_len` by their first number (`~592 (...)` -> 592), the same for
every request. Where either says ShareGPT, the 200 shipped ShareGPT pairs counted with the
model's kind of tokenizer (data/sharegpt_200_llama3.csv for vocabularies of 100k tokens and
more, data/sharegpt_200_llama2.csv for 32k ones; see the README there) are used, in file order
(repeated past 200).

All-reduce: vLLM's custom all-reduce for messages up to 8 MiB from v0.4.1 (its default since then),
NCCL only for older versions (`~v0.3.3`) or notes saying `disable_custom_all_reduce`.

Prefix caching: on for vLLM V1 rows (V1's default), off for V0 (V0's default). A dataset of
inference-perf's `shared_prefix` kind, `(G sys prompts x U users)` with `sys S` in input_len,
is re-created as inference-perf builds it: G x U distinct prompts (a group's S-token system
prompt + a question making up the rest of input_len), sent round and round in a seeded
shuffled order (llmsim.workload.shared_prefix), so after the first pass a prompt is found
almost whole in the cache.

Engine limits: `max_num_seqs=`, `max_num_batched_tokens=` and `chunked prefill on|off` from the
notes win. Otherwise the engine's defaults:
- vLLM V0 (engine_version says V0, or a version below 0.7): max_num_seqs 256; chunked prefill on
  only for models with max_model_len > 32K (vLLM 0.6 `EngineArgs`: "Chunked prefill is enabled
  by default for models with max_model_len > 32K", then max_num_batched_tokens=512 - seen in
  v0.6.4.dev logs for Llama-3.1-8B); without it, max_num_batched_tokens = max(max_model_len, 2048).
  So Llama-3.1-8B (128K) runs chunked at 512 tokens; Llama-3-70B (8K, 8192 tokens) and
  Mixtral-8x7B (32K, 32768 tokens) run unchunked. llmsim mixes whole prompts with decodes in
  one iteration where V0 ran prefill-only iterations; the batch latencies are close either way.
- otherwise (vLLM V1): chunked prefill on; on GPUs of 70 GiB or more other than the A100, 1024
  sequences and 8192 tokens behind the API server, 16384 offline (vLLM's LLM class); on the others
  256 sequences and 2048 (offline 8192) tokens (llmsim.config.engine_limits, as in a replay).
"""

from __future__ import annotations

import re

import msgspec

from llmsim.config.engine_limits import EngineFamily, default_limits
from llmsim.config.environment import ServingOptions
from llmsim.cost import get_hardware, load_model_spec
from llmsim.validation.names import hardware_id, model_name
from llmsim.workload.arrivals import ArrivalProcess
from llmsim.workload.shared_prefix import SharedPrefixSpec
from llmsim.validation.points import ServingPoint, first_number

DURATION_S = 300.0
OFFLINE_WORKLOADS = ("static", "burst")  # requests handed to the engine (vLLM's LLM class), no API server
CLOSED_LOOP_ROUNDS = 10  # requests per client of a closed loop
_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4")


class Scenario(msgspec.Struct, frozen=True, kw_only=True):
    """One simulation: equal scenarios are simulated once."""

    model: str
    hardware: str
    tp: int
    dtype: str
    max_num_seqs: int
    max_num_batched_tokens: int
    chunked_prefill: bool
    workload: str  # "static" (all at t=0, latency of the batch), "burst" (all at t=0), "open", "single", "closed"
    process: ArrivalProcess | None  # constant / poisson for "open"
    rate: float | None
    requests: int
    input_tokens: int | None  # None: the ShareGPT pairs
    output_tokens: int | None
    prefix_caching: bool = True
    async_scheduling: bool = True
    custom_all_reduce: bool = True
    shared_prefix: SharedPrefixSpec | None = None
    kv_cache_dtype: str | None = None  # None: vLLM's auto (16-bit)

    @property
    def offline(self) -> bool:
        """Requests handed to the engine directly (vLLM's LLM class in benchmark_latency/throughput), no API server."""
        return self.workload in OFFLINE_WORKLOADS

    @property
    def conditions(self) -> str:
        """The assumptions of this run, in a few words."""
        lengths = "ShareGPT x200" if self.input_tokens is None else f"{self.input_tokens} in/{self.output_tokens} out"
        limits = (f"seqs {self.max_num_seqs}, tokens {self.max_num_batched_tokens}"
                  f"{'' if self.chunked_prefill else ' unchunked'}")
        if self.workload == "static":
            load = f"batch {self.requests}"
        elif self.workload == "burst":
            load = f"{self.requests} at t=0"
        elif self.workload == "single":
            load = "1 request alone"
        elif self.workload == "closed":
            load = f"{self.requests // CLOSED_LOOP_ROUNDS} clients x{self.requests}"
        else:
            load = f"{self.process} {self.rate:g}/s x{self.requests}"
        cache = "" if self.prefix_caching else "; no prefix caching"
        cache += "" if self.async_scheduling else "; sync scheduling"
        cache += "" if self.custom_all_reduce or self.tp == 1 else "; NCCL all-reduce"
        cache += "; offline" if self.offline else ""
        cache += "; fp8 KV" if self.kv_cache_dtype == "fp8" else ""
        if self.shared_prefix is not None:
            sp = self.shared_prefix
            lengths += f" ({sp.groups}x{sp.prompts_per_group} prompts, sys {sp.system_tokens})"
        return f"{load}; {lengths}; {limits}{cache}"


def scenario_for(point: ServingPoint, duration_s: float = DURATION_S) -> Scenario:
    """The simulation that reproduces `point` (the rules are in this module's docstring)."""
    model = model_name(point)
    workload, process, rate, requests = _workload(point, duration_s)
    inputs, outputs = _lengths(point)
    seqs, tokens, chunked = _limits(point, model, offline=workload in OFFLINE_WORKLOADS)
    if workload == "static":
        seqs = requests
    return Scenario(model=model, hardware=hardware_id(point), tp=point.tp, dtype=_dtype(point), max_num_seqs=seqs,
                    max_num_batched_tokens=tokens, chunked_prefill=chunked, workload=workload, process=process,
                    rate=rate, requests=requests, input_tokens=inputs, output_tokens=outputs,
                    prefix_caching=not _is_v0(point), async_scheduling=_async_scheduling(point),
                    custom_all_reduce=_custom_all_reduce(point), shared_prefix=_shared_prefix(point, inputs),
                    kv_cache_dtype=_kv_cache_dtype(point))


def _shared_prefix(point: ServingPoint, inputs: int | None) -> SharedPrefixSpec | None:
    """inference-perf's shared_prefix shape from the dataset and input_len columns, or None."""
    groups = re.search(r"(\d+)\s+sys(?:tem)?\s+prompts?\s*x\s*(\d+)\s+users?", point.dataset)
    system = re.search(r"sys(?:tem)?\s+(\d+)", point.input_len)
    if not groups or inputs is None:
        return None
    s = min(int(system.group(1)), inputs - 1) if system else 0
    return SharedPrefixSpec(groups=int(groups.group(1)), prompts_per_group=int(groups.group(2)), system_tokens=s)


def _workload(point: ServingPoint, duration_s: float) -> tuple[str, ArrivalProcess | None, float | None, int]:
    """(workload, process, rate, request count) from the arrival columns."""
    text = point.arrival_value.lower()
    count = first_number(text)
    if point.arrival == "offline":
        if count is None or count < 1:
            raise point.error("arrival_value", f"{point.arrival_value!r} gives no request count",
                              "'static batch N' or 'all N at once'")
        return ("static" if "static" in text or "batch" in text else "burst"), None, None, int(count)
    if point.arrival == "qps":
        if count is None or not count > 0:
            raise point.error("arrival_value", f"{point.arrival_value!r} gives no rate", "'R (constant-interval)'")
        process: ArrivalProcess = "constant" if "constant" in text else "poisson"
        prompts = re.search(r"(\d+)\s+prompts", point.dataset)
        n = int(prompts.group(1)) if prompts else round(count * duration_s)
        return "open", process, count, max(n, 1)
    if point.arrival == "concurrency":
        if count is None or count != int(count) or count < 1:
            raise point.error("arrival_value", f"{point.arrival_value!r} is not a client count", "an integer >= 1")
        if count == 1:
            return "single", None, None, 1
        return "closed", None, None, int(count) * CLOSED_LOOP_ROUNDS
    raise point.error("arrival", f"unknown arrival {point.arrival!r}", "qps, offline or concurrency")


def _lengths(point: ServingPoint) -> tuple[int | None, int | None]:
    """Fixed (input, output) tokens, or (None, None) for the ShareGPT pairs."""
    if "sharegpt" in f"{point.input_len} {point.output_len}".lower():
        return None, None
    inputs, outputs = first_number(point.input_len), first_number(point.output_len)
    for field, value in (("input_len", inputs), ("output_len", outputs)):
        if value is None or value < 1:
            raise point.error(field, f"{getattr(point, field)!r} gives no token count", "a number, or ShareGPT")
    assert inputs is not None and outputs is not None
    return round(inputs), round(outputs)


def _dtype(point: ServingPoint) -> str:
    text = point.precision.lower()
    for dtype in _DTYPES:
        if dtype in text:
            return dtype
    raise point.error("precision", f"unknown precision {point.precision!r}", "one of " + ", ".join(_DTYPES))


def _kv_cache_dtype(point: ServingPoint) -> str | None:
    """fp8 where the precision or the notes say the KV cache is FP8 (`kv_cache_dtype=fp8`, "FP8 KV"); else
    None, vLLM's auto: the KV cache in the model's 16-bit dtype, also under FP8 weights."""
    text = f"{point.precision} {point.notes}".lower().replace("-", "_")
    return "fp8" if re.search(r"kv_cache_dtype\s*[=:]?\s*fp8|fp8[ _]kv", text) else None


def _limits(point: ServingPoint, model: str, *, offline: bool) -> tuple[int, int, bool]:
    """(max_num_seqs, max_num_batched_tokens, chunked prefill): the notes, else the engine's defaults
    for the row's GPU (llmsim.config.engine_limits, as a replay's are)."""
    seqs = re.search(r"max_num_seqs\s*[=:]?\s*(\d+)", point.notes)
    tokens = re.search(r"max_num_batched_tokens\s*[=:]?\s*(\d+)", point.notes)
    chunk = re.search(r"chunked[ _-]prefill\s+(on|off)", point.notes, re.IGNORECASE)
    hw = get_hardware(hardware_id(point))
    max_len = load_model_spec(model).max_position_embeddings
    family: EngineFamily = "vllm-v0" if _is_v0(point) else "vllm-v1"
    limits = ServingOptions(max_num_seqs=int(seqs.group(1)) if seqs else None,
                            max_num_batched_tokens=int(tokens.group(1)) if tokens else None,
                            enable_chunked_prefill=chunk.group(1).lower() == "on" if chunk else None).with_limits(
        default_limits(family, hw.id, hw.memory_bytes, offline=offline, max_model_len=max_len))
    return limits.seq_limit, limits.token_budget, limits.chunked_prefill


def _async_scheduling(point: ServingPoint) -> bool:
    """vLLM V1 from v0.12 schedules one iteration ahead by default (PR #27614); V0 and older V1 did not."""
    if _is_v0(point):
        return False
    version = re.search(r"v?0\.(\d+)\.", point.engine_version)
    return version is None or int(version.group(1)) >= 12


def _custom_all_reduce(point: ServingPoint) -> bool:
    """vLLM's custom all-reduce is on by default from v0.4.1 (PR #4040; added in PR #2192, Jan 2024, then off
    by default from PR #2808 until then); notes saying `disable_custom_all_reduce` turn it off."""
    if "disable_custom_all_reduce" in point.notes.replace("-", "_"):
        return False
    version = re.search(r"v?0\.(\d+)\.(\d+)", point.engine_version)
    return version is None or (int(version.group(1)), int(version.group(2))) >= (4, 1)


def engine_family(point: ServingPoint) -> str:
    """The calibration family a row's engine belongs to (`llmsim validate --calibration auto`)."""
    return "vllm-v0" if _is_v0(point) else "vllm-v1"


def _is_v0(point: ServingPoint) -> bool:
    """vLLM's V0 engine: said so, or a version below 0.7 (`~v0.3.3`, `0.6.4.dev`)."""
    text = f"{point.engine} {point.engine_version}"
    if "V1" in text:
        return False
    if "V0" in text:
        return True
    version = re.search(r"v?0\.(\d+)\.", point.engine_version)
    return version is not None and int(version.group(1)) < 7



