"""What ran: the cluster, replicas, engine, routing and start of a replay, as one struct and its summary lines."""

from __future__ import annotations

from collections import Counter
from typing import Literal

import msgspec

StartKind = Literal["warm", "cold"]
START_CHOICES: tuple[StartKind, ...] = ("warm", "cold")


class NodeGpus(msgspec.Struct, frozen=True, kw_only=True):
    """One node at the start of the run: GPU type -> count."""

    node: int
    name: str
    gpus: dict[str, int]
    # GPU type -> memory per GPU (GB) where env.json's memory_per_gpu_gb differs from the card's own
    memory_gb: dict[str, float] = {}


class ReplicaGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Replicas of one model, GPU type and TP degree (alive at the end of the run), and their nodes."""

    model: str
    gpu_type: str
    tp: int
    replicas: int
    nodes: list[int]
    calibration_profile: str
    role: str = "both"  # prefill / decode under disaggregation
    max_num_seqs: int = 0  # batch limits: sequences in a batch, tokens in one iteration
    max_num_batched_tokens: int = 0
    chunked_prefill: bool = True  # False: a prompt runs whole in one iteration (vLLM V0 up to 32K context)
    precision: str = ""  # "fp16", "fp8", "fp8, fp8 KV", ...


class ModelLoads(msgspec.Struct, frozen=True, kw_only=True):
    """The cost of loading weights during the run (zero on a warm start without re-provisioning)."""

    count: int
    longest_s: float
    total_s: float
    requests_waited: int  # requests that arrived while no replica of their model was ready


class Deployment(msgspec.Struct, frozen=True, kw_only=True):
    """stats.json's `deployment` section and the head of the console summary."""

    input: str
    environment: str  # the env.json path, or "--n-engines N"
    environment_changes: int
    models: list[str]
    nodes: list[NodeGpus]
    gpu_names: dict[str, str]  # GPU id -> the card it stands for (`llmsim hardware` lists them)
    replicas: list[ReplicaGroup]
    calibration: str  # the --calibration name ("none" = pure roofline)
    async_scheduling: list[bool]  # the values the run's serving options take ([True, False]: some of each)
    # whether TP groups all-reduce through the engine's custom kernel (False: NCCL only, turned off or over PCIe beyond two GPUs)
    custom_all_reduce: list[bool] = msgspec.field(default_factory=lambda: [True])
    frontend_overhead_ms: float  # API-server time per request (the calibration's); 0 with --offline
    offline: bool
    routing: str
    reprovisioning: str
    start: StartKind
    start_from: str  # where the start kind came from
    model_loads: ModelLoads


ReplicaRow = tuple[str, str, int, int, str, str, int, int, bool, str]
"""model, gpu_type, tp, node, calibration profile, role, max_num_seqs, max_num_batched_tokens, chunked prefill,
precision"""


def group_replicas(rows: list[ReplicaRow]) -> list[ReplicaGroup]:
    """One group per model, GPU type, TP, profile, role and batch limits, with its count and nodes."""
    counts: Counter[tuple[str, str, int, str, str, int, int, bool, str]] = Counter()
    nodes: dict[tuple[str, str, int, str, str, int, int, bool, str], set[int]] = {}
    for model, gpu_type, tp, node, profile, role, seqs, tokens, chunked, precision in rows:
        key = (model, gpu_type, tp, profile, role, seqs, tokens, chunked, precision)
        counts[key] += 1
        nodes.setdefault(key, set()).add(node)
    return [ReplicaGroup(model=k[0], gpu_type=k[1], tp=k[2], replicas=n, nodes=sorted(nodes[k]),
                         calibration_profile=k[3], role=k[4], max_num_seqs=k[5], max_num_batched_tokens=k[6],
                         chunked_prefill=k[7], precision=k[8])
            for k, n in sorted(counts.items())]


def _short(model: str) -> str:
    return model.rsplit("/", 1)[-1]


def ids_text(ids: list[int]) -> str:
    """Node ids with runs compressed: [1, 2, 3, 5] -> '1-3,5'."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(ids):
        if run and i != run[-1] + 1:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(map(str, run)))
            run = []
        run.append(i)
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(map(str, run)))
    return ",".join(parts)


def _gpus_text(gpus: dict[str, int], names: dict[str, str], memory_gb: dict[str, float]) -> str:
    def card(gpu: str) -> str:
        memory = f"; {memory_gb[gpu]:g} GB per GPU from env.json" if gpu in memory_gb else ""
        return f"{names.get(gpu, '?')}{memory}"

    return " + ".join(f"{count} x {gpu} ({card(gpu)})" for gpu, count in gpus.items()) or "no GPUs"


def nodes_text(nodes: list[NodeGpus], names: dict[str, str]) -> str:
    """Each node with its GPUs; nodes with the same GPUs (and no names of their own) said once."""
    out: list[str] = []
    i = 0
    while i < len(nodes):
        j = i
        while (j + 1 < len(nodes) and nodes[j + 1].gpus == nodes[i].gpus and nodes[j + 1].memory_gb == nodes[i].memory_gb
               and nodes[j + 1].node == nodes[j].node + 1):
            j += 1
        n = nodes[i]
        if j - i >= 2:
            out.append(f"nodes {ids_text([m.node for m in nodes[i:j + 1]])}: {_gpus_text(n.gpus, names, n.memory_gb)} each")
        else:
            out += [f"node {m.node}{f' ({m.name})' if m.name else ''}: {_gpus_text(m.gpus, names, m.memory_gb)}"
                    for m in nodes[i:j + 1]]
        i = j + 1
    return "; ".join(out)


def _replica_text(g: ReplicaGroup) -> str:
    where = ("nodes " if len(g.nodes) > 1 else "node ") + ids_text(g.nodes)
    role = "" if g.role == "both" else f" {g.role}"
    whole = "" if g.chunked_prefill else ", prompts unchunked"
    limits = f", batches up to {g.max_num_seqs} seqs / {g.max_num_batched_tokens} tokens{whole}" if g.max_num_seqs else ""
    precision = f" {g.precision}" if g.precision else ""
    return f"{g.replicas} x {_short(g.model)} TP{g.tp}{precision}{role} on {g.gpu_type} ({where}{limits})"


def _loads_text(loads: ModelLoads) -> str:
    if not loads.count:
        return "no model loads during the run"
    return (f"model loads: {loads.count}, {loads.longest_s:.1f} s longest; "
            f"{loads.requests_waited} request{'s' if loads.requests_waited != 1 else ''} waited for one")


def header_lines(d: Deployment) -> list[str]:
    """The summary's first lines: what ran."""
    changes = f", {d.environment_changes} environment change(s)" if d.environment_changes else ""
    profiles = sorted({g.calibration_profile for g in d.replicas})
    engine = d.calibration + (f" ({', '.join(profiles)})" if profiles and profiles != [d.calibration] else "")
    return [
        f"ran: {', '.join(_short(m) for m in d.models) or 'no model'} on {d.environment}{changes}; input {d.input}",
        "cluster: " + nodes_text(d.nodes, d.gpu_names),
        "replicas at the end: " + ("; ".join(_replica_text(g) for g in d.replicas) or "none"),
        f"engine: calibration {engine}; {_scheduling_text(d)}; {_frontend_text(d)}{_allreduce_text(d)}",
        f"routing {d.routing}; re-provisioning {d.reprovisioning}",
        f"start: {d.start} ({d.start_from}); {_loads_text(d.model_loads)}",
    ]


def _scheduling_text(d: Deployment) -> str:
    if d.async_scheduling == [True]:
        return "async scheduling (one iteration ahead)"
    return "synchronous scheduling" if d.async_scheduling == [False] else "async scheduling on some deployments"


def _allreduce_text(d: Deployment) -> str:
    if d.custom_all_reduce == [True]:
        return ""  # the default: said nowhere, as vLLM does
    return "; all-reduce through NCCL only" if d.custom_all_reduce == [False] else "; custom all-reduce on some deployments"


def _frontend_text(d: Deployment) -> str:
    if d.offline:
        return "offline (requests straight to the engine)"
    return f"API server {d.frontend_overhead_ms:.1f} ms per request"


def footer_line(outputs: str | None, *, interrupted: bool = False) -> str:
    """The summary's last line: where the outputs are (None: --no-outputs), or that none were written."""
    if outputs is None:
        return "no outputs written (--no-outputs)"
    return f"{'partial ' if interrupted else ''}outputs in {outputs}"
