"""Run options of a replay, as one msgspec Struct (the CLI fills it; tests build it directly)."""

from __future__ import annotations

from typing import Literal

import msgspec

from llmsim.workload.arrivals import ArrivalProcess


class ReplayOptions(msgspec.Struct, kw_only=True):
    """Everything `llmsim replay` needs; None means "not given"."""

    input: str
    environment: str | None = None
    environment_change_file: str | None = None
    n_engines: int | None = None
    hardware: str = "nvidia_A100"
    hardware_file: str | None = None
    tp: int = 1
    dtype: str | None = None
    kv_cache_dtype: str | None = None  # vLLM's --kv-cache-dtype: auto (the deployment's), fp8, fp16, bf16
    model: str | None = None
    default_model: str | None = None  # no default: a run never guesses a model
    trace_format: str = "auto"
    arrival_rate: float | None = None
    burstiness: float | None = None
    arrival_process: ArrivalProcess | None = None  # None: Poisson for a rate alone, Gamma with burstiness
    time_scale: float = 1.0
    concurrency: int | None = None  # closed loop: this many clients, each waits for its previous request
    think_time_s: float = 0.0  # a closed-loop client's pause between a request's end and its next
    start_s: float | None = None
    duration_s: float | None = None
    limit: int | None = None
    seed: int = 0
    output_dir: str = ".local/replay_results"
    trace_output: str | None = None
    stats_output: str | None = None
    events_output: str | None = None
    requests_output: str | None = None
    trace_detail: str = "auto"  # llmsim.output.chrome_trace.DEFAULT_DETAIL
    write_outputs: bool = True
    print_interval: float = 0.0
    quiet: bool = False
    load_report_interval: float = 0.0
    reprovisioning_policy: str = "least-recently-used"
    routing_policy: str = "round-robin"
    preempt_on_reprovision: bool = False
    calibration: str | None = "default"
    # A serving stack's calibration family and scheduler defaults at once (ENGINE_DEFAULTS); options given win.
    engine: Literal["vllm-v1", "vllm-v0"] | None = None
    step_mode: bool = False
    strict: bool = False
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    block_size: int | None = None
    gpu_memory_utilization: float | None = None
    enable_chunked_prefill: bool | None = None
    enable_prefix_caching: bool | None = None
    async_scheduling: bool | None = None
    disable_custom_all_reduce: bool | None = None
    offline: bool = False  # requests go straight to the engine (vLLM's LLM class): no API-server overhead
    host_kv_cache_gb: float | None = None  # every node's host memory for offloaded prefix-cache KV (None: env.json's)
    scheduling: str | None = None
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    start: str | None = None  # "warm" | "cold"; None: env.json's preload_models, warm for --n-engines
