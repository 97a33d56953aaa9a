"""The cluster environment (env.json): the seed's node and legacy forms plus llmsim's extensions."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from llmsim.config.engine_limits import SMALL_GPU_SERVER, EngineLimits
from llmsim.config.jsonfile import decode_file
from llmsim.cost.precision import Precision
from llmsim.errors import ConfigError


class ServingOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per-replica serving-engine options; defaults follow vLLM V1's OpenAI server."""

    # None: the engine's default for the replica's GPU (llmsim.config.engine_limits), filled in when a
    # node places the replica; an engine built without one uses vLLM V1's small-GPU values (256, 2048).
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    block_size: int = 16
    gpu_memory_utilization: float = 0.9
    enable_chunked_prefill: bool | None = None  # None: the engine's default (V1 on; V0 only beyond 32K context)
    scheduling: Literal["fcfs", "priority"] = "fcfs"
    enable_prefix_caching: bool = True
    # The scheduler works one iteration ahead of the GPU (vLLM's default since v0.12, PR #27614): a busy
    # engine decided the next batch when the previous iteration began, so requests arriving meanwhile
    # wait one more iteration for their prefill.
    async_scheduling: bool = True
    # vLLM's --disable-custom-all-reduce: every tensor-parallel all-reduce through NCCL (vLLM before
    # v0.4.1 had no custom all-reduce on by default).
    disable_custom_all_reduce: bool = False

    def with_limits(self, limits: EngineLimits) -> ServingOptions:
        """These options with the engine's default limits where none were given (vLLM caps a default
        max_num_seqs at the token budget)."""
        if self.placed:
            return self
        tokens = limits.max_num_batched_tokens if self.max_num_batched_tokens is None else self.max_num_batched_tokens
        seqs = min(limits.max_num_seqs, tokens) if self.max_num_seqs is None else self.max_num_seqs
        chunked = limits.chunked_prefill if self.enable_chunked_prefill is None else self.enable_chunked_prefill
        return msgspec.structs.replace(self, max_num_seqs=seqs, max_num_batched_tokens=tokens,
                                       enable_chunked_prefill=chunked)

    @property
    def placed(self) -> bool:
        """Every engine default a GPU decides is filled in (given, or by `with_limits`)."""
        return (self.max_num_seqs is not None and self.max_num_batched_tokens is not None
                and self.enable_chunked_prefill is not None)

    @property
    def chunked_prefill(self) -> bool:
        """enable_chunked_prefill, or on (vLLM V1's) when the options were never placed on a GPU."""
        return self.enable_chunked_prefill is not False

    @property
    def seq_limit(self) -> int:
        """max_num_seqs, or the small-GPU default when the options were never placed on a GPU."""
        return SMALL_GPU_SERVER.max_num_seqs if self.max_num_seqs is None else self.max_num_seqs

    @property
    def token_budget(self) -> int:
        """max_num_batched_tokens, or the small-GPU default when the options were never placed on a GPU."""
        return SMALL_GPU_SERVER.max_num_batched_tokens if self.max_num_batched_tokens is None else self.max_num_batched_tokens


Role = Literal["prefill", "decode", "both"]
"""What a replica serves: whole requests (both), prompts only (prefill) or generation only (decode)."""


class DeploymentSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A model placed on a node at start: TP degree, replica count (None = as many as fit), role."""

    model: str
    tp: int = 1
    replicas: int | None = None
    precision: Precision = Precision()
    serving: ServingOptions | None = None
    role: Role = "both"


class NodeSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One node: GPUs by type, memory per GPU, network, optional initial deployments."""

    node_id: int
    name: str = ""
    gpu_types: list[str]
    gpu_count_per_type: list[int]
    memory_per_gpu_gb: list[float] | None = None
    network_bandwidth_gbps: float = 100.0
    interconnect: Literal["nvlink", "pcie"] | None = None
    deployments: list[DeploymentSpec] = []
    host_kv_cache_gb: float = 0.0  # host memory for offloaded prefix-cache KV, shared by the node's GPUs (0: off)


class Infrastructure(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Paths weights travel on: disk (MB/s), PCIe (GB/s), network (Gbit/s); engine warm-up."""

    disk_bandwidth_mbps: float = 2000.0
    pcie_bandwidth_gbps: float = 64.0
    network_bandwidth_gbps: float = 100.0
    engine_warmup_s: float = 0.0


class ModelLoadingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where weights come from and whether the trace's models are loaded before the run."""

    model_cache_path: str | None = None
    preload_models: bool = False
    weights_location: Literal["disk", "remote"] = "disk"


class Disaggregation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How prefill replicas hand requests to decode replicas (used only when some deployment has a role)."""

    decode_policy: Literal["least-loaded", "least-kv"] = "least-kv"
    transfer_latency_us: float = 20.0  # fixed cost of every KV transfer (connection set-up, descriptors)
    layerwise_overlap: bool = False  # only the last layer's KV is sent after the prefill ends (docs/disaggregation.md)


class LegacyGpu(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The seed's legacy environment entry: `amount` GPUs of `name` serving `model`."""

    name: str
    amount: int
    model: str
    precision: Precision = Precision()


class Environment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A whole cluster description, validated."""

    description: str = ""
    nodes: list[NodeSpec] = []
    gpus: list[LegacyGpu] = []
    infrastructure: Infrastructure = Infrastructure()
    model_loading_config: ModelLoadingConfig = ModelLoadingConfig()
    defaults: ServingOptions = ServingOptions()
    disaggregation: Disaggregation = Disaggregation()


def _legacy_nodes(env: Environment) -> list[NodeSpec]:
    """Turn the seed's `gpus` list into one node per entry with its model deployed."""
    first_id = max((n.node_id for n in env.nodes), default=0) + 1
    return [
        NodeSpec(
            node_id=first_id + i,
            name=f"{g.name}-{i}",
            gpu_types=[g.name],
            gpu_count_per_type=[g.amount],
            deployments=[DeploymentSpec(model=g.model, precision=g.precision)],
        )
        for i, g in enumerate(env.gpus)
    ]


MAX_GPUS = 65_536  # per cluster: more is a typo, and would spawn that many actors
MAX_NODE_ID = 2**31 - 1  # ids travel as 64-bit integers in the Chrome trace
MAX_MEMORY_GB = 1e6  # a petabyte per GPU: beyond it, KV block counts stop being meaningful
MIN_BANDWIDTH = 1e-3  # slower links make load times overflow virtual time
MAX_WARMUP_S = 1e6


def _require(ok: bool, message: str, file: str, field: str, expected: str) -> None:
    if not ok:
        raise ConfigError(message, file=file, field=field, expected=expected)


def validate_serving(opts: ServingOptions, file: str, where: str) -> None:
    """Serving options a serving engine could run with: positive budgets, a usable memory fraction."""
    for name in ("max_num_batched_tokens", "max_num_seqs", "block_size"):
        value = getattr(opts, name)
        _require(value is None or value >= 1, f"{name} is {value}", file, f"{where}.{name}", "an integer >= 1")
    gmu = opts.gpu_memory_utilization
    _require(0 < gmu <= 1, f"gpu_memory_utilization is {gmu}", file, f"{where}.gpu_memory_utilization",
             "a fraction in (0, 1]")


def _validate_infrastructure(infra: Infrastructure, file: str) -> None:
    for name in ("disk_bandwidth_mbps", "pcie_bandwidth_gbps", "network_bandwidth_gbps"):
        value = getattr(infra, name)
        _require(value >= MIN_BANDWIDTH, f"{name} is {value}", file, f"infrastructure.{name}",
                 f"a bandwidth >= {MIN_BANDWIDTH:g}")
    _require(0 <= infra.engine_warmup_s <= MAX_WARMUP_S, f"engine_warmup_s is {infra.engine_warmup_s}", file,
             "infrastructure.engine_warmup_s", f"seconds from 0 to {MAX_WARMUP_S:g}")


def _validate_node_numbers(node: NodeSpec, file: str, where: str) -> None:
    _require(0 <= node.node_id <= MAX_NODE_ID, f"node_id {node.node_id}", file, f"{where}.node_id",
             f"an integer from 0 to {MAX_NODE_ID}")
    for j, gb in enumerate(node.memory_per_gpu_gb or []):
        _require(0 < gb <= MAX_MEMORY_GB, f"memory {gb} GB", file, f"{where}.memory_per_gpu_gb[{j}]",
                 f"GB > 0 and <= {MAX_MEMORY_GB:g}")
    _require(node.network_bandwidth_gbps >= MIN_BANDWIDTH, f"network_bandwidth_gbps is {node.network_bandwidth_gbps}",
             file, f"{where}.network_bandwidth_gbps", f"a bandwidth >= {MIN_BANDWIDTH:g}")
    for j, dep in enumerate(node.deployments):
        if dep.replicas is not None:
            _require(dep.replicas >= 1, f"replicas is {dep.replicas}", file, f"{where}.deployments[{j}].replicas",
                     "an integer >= 1, or no replicas field (as many as fit)")
        if dep.serving is not None:
            validate_serving(dep.serving, file, f"{where}.deployments[{j}].serving")


def validate_environment(env: Environment, file: str, known_gpus: list[str]) -> Environment:
    """Check cross-field rules msgspec cannot express; return the env in node form."""
    validate_serving(env.defaults, file, "defaults")
    _validate_infrastructure(env.infrastructure, file)
    for k, gpu in enumerate(env.gpus):
        _require(gpu.amount >= 0, f"amount is {gpu.amount}", file, f"gpus[{k}].amount", "a count >= 0")
    nodes = list(env.nodes) + _legacy_nodes(env)
    if not nodes:
        raise ConfigError("no nodes and no gpus", file=file, field="nodes", expected="at least one node")
    seen: set[int] = set()
    total = 0
    for i, node in enumerate(nodes):
        where = f"nodes[{i}]"
        if node.node_id in seen:
            raise ConfigError(f"duplicate node_id {node.node_id}", file=file, field=f"{where}.node_id")
        seen.add(node.node_id)
        _validate_node_numbers(node, file, where)
        if len(node.gpu_types) != len(node.gpu_count_per_type):
            raise ConfigError("gpu_types and gpu_count_per_type differ in length", file=file, field=where)
        if node.memory_per_gpu_gb is not None and len(node.memory_per_gpu_gb) != len(node.gpu_types):
            raise ConfigError("memory_per_gpu_gb and gpu_types differ in length", file=file, field=f"{where}.memory_per_gpu_gb")
        for j, (gpu_id, count) in enumerate(zip(node.gpu_types, node.gpu_count_per_type)):
            if gpu_id not in known_gpus:
                raise ConfigError(f"unknown GPU id {gpu_id!r}", file=file, field=f"{where}.gpu_types[{j}]",
                                  expected="one of " + ", ".join(known_gpus))
            if count < 0:
                raise ConfigError(f"negative GPU count {count}", file=file, field=f"{where}.gpu_count_per_type[{j}]", expected="a count >= 0")
            total += count
        for j, dep in enumerate(node.deployments):
            if dep.tp not in (1, 2, 4, 8, 16):
                raise ConfigError(f"tp {dep.tp} is not a power of two", file=file, field=f"{where}.deployments[{j}].tp", expected="1, 2, 4, 8 or 16")
        _check_deployments_fit(node, file, where)
    _check_pools(nodes, file)
    _require(0 <= env.disaggregation.transfer_latency_us <= 1e9, f"transfer_latency_us is "
             f"{env.disaggregation.transfer_latency_us}", file, "disaggregation.transfer_latency_us",
             "microseconds from 0 to 1e9")
    _require(total <= MAX_GPUS, f"the environment has {total:,} GPUs", file, "nodes", f"at most {MAX_GPUS:,} GPUs")
    if total == 0:
        raise ConfigError("the environment has zero GPUs", file=file, field="nodes", expected="at least one GPU")
    return msgspec.structs.replace(env, nodes=nodes, gpus=[])


def _check_pools(nodes: list[NodeSpec], file: str) -> None:
    """A model with prefill replicas needs decode replicas, and the other way round (the requests would never end)."""
    roles: dict[str, dict[str, str]] = {}
    for i, node in enumerate(nodes):
        for j, dep in enumerate(node.deployments):
            roles.setdefault(dep.model, {}).setdefault(dep.role, f"nodes[{i}].deployments[{j}].role")
    for model, where in roles.items():
        for have, need in (("prefill", "decode"), ("decode", "prefill")):
            if have in where and need not in where:
                raise ConfigError(f"model {model!r} has {have} replicas but no {need} replicas", file=file,
                                  field=where[have], expected=f"a {need} deployment of {model!r} as well, or role \"both\"")


def _check_deployments_fit(node: NodeSpec, file: str, where: str) -> None:
    """Each start-up deployment gets the GPUs it asks for (a replica's TP group is one GPU type), in order."""
    free = {gpu: count for gpu, count in zip(node.gpu_types, node.gpu_count_per_type)}
    for j, dep in enumerate(node.deployments):
        place = f"{where}.deployments[{j}]"
        widest = max(free.values(), default=0)
        if dep.tp > widest:
            left = " still free" if j else ""
            raise ConfigError(f"tp {dep.tp} needs {dep.tp} GPUs of one type but node {node.node_id} has at most "
                              f"{widest}{left}", file=file, field=f"{place}.tp",
                              expected=f"a tp of at most {widest}" if widest else "a node with free GPUs")
        fits = sum(count // dep.tp for count in free.values())
        wanted = dep.replicas or 1
        if wanted > fits:
            raise ConfigError(f"{wanted} replicas of tp {dep.tp} need {wanted * dep.tp} GPUs but node {node.node_id} "
                              f"has room for {fits}", file=file, field=f"{place}.replicas",
                              expected=f"at most {fits} replicas, or no replicas field (as many as fit)")
        for gpu in free:  # take GPUs as the node does: type by type
            take = min(wanted if dep.replicas is not None else free[gpu] // dep.tp, free[gpu] // dep.tp)
            free[gpu] -= take * dep.tp
            if dep.replicas is not None:
                wanted -= take


def load_environment(path: str | Path, known_gpus: list[str]) -> Environment:
    """Read, validate and normalise an env.json (legacy `gpus` entries become nodes)."""
    env = decode_file(path, Environment)
    return validate_environment(env, str(path), known_gpus)


def legacy_environment(n_engines: int, hardware: str, model: str | None, tp: int = 1) -> Environment:
    """The `--n-engines N` cluster: N identical nodes of `tp` GPUs, on the same code path."""
    deployments = [DeploymentSpec(model=model, tp=tp)] if model else []
    nodes = [
        NodeSpec(node_id=i + 1, name=f"engine-{i}", gpu_types=[hardware], gpu_count_per_type=[tp], deployments=deployments)
        for i in range(n_engines)
    ]
    # Legacy engines are running engines: their model is in memory when the replay starts.
    return Environment(description=f"{n_engines} x {hardware} engines", nodes=nodes,
                       model_loading_config=ModelLoadingConfig(preload_models=True))
