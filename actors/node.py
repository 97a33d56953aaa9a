"""The Node actor: owns a node's GPUs, places models on them, loads weights, spawns GPU actors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import msgspec

from actors.gpu import GpuActor
from llmsim.config.environment import (
    DeploymentSpec, Infrastructure, ModelLoadingConfig, NodeSpec, Role, ServingOptions,
)
from llmsim.config.engine_limits import EngineFamily
from llmsim.cost import Precision
from llmsim.kernel.actor import Actor, handles
from llmsim.kernel.clock import s_to_ns
from llmsim.logging_setup import get_logger
from llmsim.memory.loading import load_time_s
from llmsim.cost.build import build_cost_model
from llmsim.memory.planner import MemoryPlan
from llmsim.memory.sizing import gpu_memory_bytes, placed_options, size_replica
from llmsim.output.events import (
    EnvironmentChanged, ModelLoadFinished, ModelLoadStarted, ModelUnloaded, ProvisionRefusedEvent, ReplicaRemoved,
)
from protocols.control import Drain, ModelLoaded, ProvisionModel, ProvisionRefused, ReplicaDrained, ReplicaGone, ReplicaReady
from protocols.cost import Deployment
from protocols.disagg import AssignDecode, KvSource, ReserveKv, ReturnHandOffs
from protocols.environment import AddGpus, GpusNotRemoved, RankReplicas, RemoveGpus, ReplicaRanking
from protocols.requests import AssignRequest, EnqueueRequest, ReturnRequests

log = get_logger()


class ReplicaSlot(msgspec.Struct, kw_only=True):
    """A replica the node runs (or is loading): its GPUs and what the router last heard of it."""

    name: str
    gpu_type: str
    tp: int
    model: str
    kv_blocks: int
    opts: ServingOptions
    deployment: Deployment
    role: Role = "both"
    host_blocks: int = 0  # prefix-cache blocks its share of the node's host memory holds
    load_ns_per_block: float = 0.0  # one block (each GPU's shard in parallel) over PCIe
    ready: bool = False
    leaving: bool = False


class NodeContext(msgspec.Struct, frozen=True, kw_only=True):
    """What every node needs to know about the run: peers, infrastructure, options."""

    engine: str
    router: str
    cost: str
    infrastructure: Infrastructure
    loading: ModelLoadingConfig
    defaults: ServingOptions
    calibration: str | None = "default"
    hardware_file: str | None = None
    step_mode: bool = False
    load_report_interval_ns: int = 0
    precision_override: Callable[[Precision | None], Precision | None] | None = None  # --dtype, --kv-cache-dtype
    serving_override: Callable[[ServingOptions], ServingOptions] | None = None
    host_kv_cache_gb: float | None = None  # the command line's, for every node (None: each node's own)
    kv: str = ""  # the KvTransfer actor (disaggregation)
    layerwise_overlap: bool = False  # handed-off KV: only the last layer's is sent after the prefill
    engine_family: EngineFamily = "vllm-v1"  # whose default batch limits a replica gets (llmsim.config.engine_limits)
    offline: bool = False  # requests straight to the engine (vLLM's LLM class: its own defaults)


class NodeActor(Actor):
    """Places models on its GPUs; re-provisions (drain, unload, load) when the router asks."""

    def __init__(self, name: str, spec: NodeSpec, nctx: NodeContext) -> None:
        super().__init__(name)
        self.spec, self.nctx = spec, nctx
        self.node_id = spec.node_id
        self.gpus: Counter[str] = Counter(dict(zip(spec.gpu_types, spec.gpu_count_per_type)))
        self.replicas: dict[str, ReplicaSlot] = {}
        self.next_index = 0
        self.load_id = 0
        self.loads: dict[int, tuple[list[ReplicaSlot], int]] = {}  # load id -> (slots, start ns)
        self.wanted_model: str | None = None
        self.replaced_model: str | None = None
        # The model the router (or env.json) last gave this node: GPUs that come back after all its
        # replicas were removed load it again, so the requests waiting for it are served.
        self.assigned_model: str | None = None
        self.to_remove: Counter[str] = Counter()  # GPUs of retiring replicas, removed when they drain
        self.ranking: Counter[str] = Counter()  # GPUs to remove, waiting for the router's ranking of replicas

    # ---- placement ---------------------------------------------------------------------
    def free_gpus(self, gpu_type: str) -> int:
        """GPUs of a type not held by any replica."""
        held = sum(r.tp for r in self.replicas.values() if r.gpu_type == gpu_type)
        return self.gpus[gpu_type] - held

    def _options(self, dep: DeploymentSpec | None) -> ServingOptions:
        opts = dep.serving if dep is not None and dep.serving is not None else self.nctx.defaults
        override = self.nctx.serving_override
        return override(opts) if override is not None else opts

    def _plan(self, model: str, gpu_type: str, dep: DeploymentSpec | None) -> tuple[Deployment, ServingOptions, MemoryPlan]:
        """Smallest TP degree (or the deployment's) whose weights and KV fit this GPU type."""
        memory_bytes = gpu_memory_bytes(self.spec, gpu_type, self.nctx.hardware_file)
        opts = placed_options(self._options(dep), model, gpu_type, memory_bytes, self.nctx.engine_family,
                              self.nctx.offline)
        precision = dep.precision if dep is not None else None
        if self.nctx.precision_override is not None:
            precision = self.nctx.precision_override(precision)
        d, mem = size_replica(model, gpu_type, gpus=self.gpus[gpu_type], memory_bytes=memory_bytes,
                              opts=opts, precision=precision, calibration=self.nctx.calibration,
                              hardware_file=self.nctx.hardware_file, tp=dep.tp if dep is not None else None,
                              interconnect=self.spec.interconnect)
        return d, opts, mem

    def _new_slots(self, model: str, dep: DeploymentSpec | None, only_type: str | None = None) -> tuple[list[ReplicaSlot], str]:
        """Replica slots for `model` on the free GPUs; empty list and a reason when nothing fits."""
        slots: list[ReplicaSlot] = []
        reasons: list[str] = []
        for gpu_type in list(self.gpus):
            if only_type is not None and gpu_type != only_type:
                continue
            free = self.free_gpus(gpu_type)
            if free <= 0:
                continue
            d, opts, mem = self._plan(model, gpu_type, dep)
            if not mem.fits or d.tp > free:
                reasons.append(f"{gpu_type}: {mem.reason or f'needs tp={d.tp} but {free} GPUs free'}")
                continue
            count = free // d.tp if dep is None or dep.replicas is None else min(dep.replicas, free // d.tp)
            for _ in range(count):
                name = f"n{self.node_id}/g{self.next_index}" + (f"-{self.next_index + d.tp - 1}" if d.tp > 1 else "")
                self.next_index += d.tp
                host_blocks, load_ns = self._host_tier(mem.kv_bytes_per_gpu, mem.kv_blocks)
                slots.append(ReplicaSlot(name=name, gpu_type=gpu_type, tp=d.tp, model=model, kv_blocks=mem.kv_blocks,
                                         opts=opts, deployment=d, host_blocks=host_blocks, load_ns_per_block=load_ns,
                                         role=dep.role if dep is not None else "both"))
        return slots, "; ".join(reasons) or "no free GPUs"

    def _host_tier(self, kv_bytes_per_gpu: int, kv_blocks: int) -> tuple[int, float]:
        """(host-memory blocks of a replica, ns to load one block over PCIe): the node's host KV memory is
        split evenly over its GPUs; a block is sharded over the replica's GPUs, each loads its shard."""
        gb = self.nctx.host_kv_cache_gb if self.nctx.host_kv_cache_gb is not None else self.spec.host_kv_cache_gb
        if gb <= 0 or kv_blocks <= 0:
            return 0, 0.0
        block_bytes = kv_bytes_per_gpu / kv_blocks  # one block's shard on one GPU
        per_gpu = gb * 1e9 / max(1, sum(self.gpus.values()))
        return int(per_gpu // block_bytes), block_bytes / (self.nctx.infrastructure.pcie_bandwidth_gbps * 1e9) * 1e9

    # ---- loading -----------------------------------------------------------------------
    def on_start(self) -> None:
        deps = self.spec.deployments
        if deps:
            self.assigned_model = deps[0].model
            slots: list[ReplicaSlot] = []
            for dep in deps:
                new, reason = self._new_slots(dep.model, dep)
                if not new:
                    self.ctx.emit(ProvisionRefusedEvent(t_ns=0, node=self.node_id, model=dep.model, reason=reason))
                    self.ctx.send(self.nctx.router, ProvisionRefused(node=self.node_id, model=dep.model, reason=reason))
                slots += new
            self._load(slots, instant=self.nctx.loading.preload_models)

    def _load(self, slots: list[ReplicaSlot], instant: bool = False) -> None:
        if not slots:
            return
        for s in slots:
            self.replicas[s.name] = s
        by_model = Counter(s.model for s in slots)
        load_s = 0.0
        for model in by_model:
            first = next(s for s in slots if s.model == model)
            cost = build_cost_model(first.deployment, self.nctx.calibration, self.nctx.hardware_file)
            per_gpu = int(cost.weight_bytes_per_gpu)
            secs = 0.0 if instant else load_time_s(per_gpu * first.tp, per_gpu, self.nctx.infrastructure, self.nctx.loading)
            load_s = max(load_s, secs)
            placed = [s for s in slots if s.model == model]
            log.debug("replicas placed", node=self.node_id, model=model, replicas=len(placed), tp=first.tp,
                      gpu_types=sorted({s.gpu_type for s in placed}), kv_blocks=[s.kv_blocks for s in placed],
                      weights_gib_per_gpu=round(per_gpu / (1 << 30), 2), load_s=round(secs, 3),
                      calibration=cost.profile.name)
            self.ctx.emit(ModelLoadStarted(t_ns=self.ctx.now, node=self.node_id, model=model,
                                           replicas=by_model[model], tp=first.tp, load_s=secs,
                                           replaces=self.replaced_model))
        self.replaced_model = None
        self.load_id += 1
        self.loads[self.load_id] = (slots, self.ctx.now)
        self.ctx.send(self.name, ModelLoaded(generation=self.load_id), s_to_ns(load_s))

    @handles(ModelLoaded)
    def on_loaded(self, msg: ModelLoaded) -> None:
        slots, started_ns = self.loads.pop(msg.generation)
        slots = [s for s in slots if self.replicas.get(s.name) is s]
        for model in sorted({s.model for s in slots}):
            self.ctx.emit(ModelLoadFinished(t_ns=self.ctx.now, node=self.node_id, model=model, start_ns=started_ns))
        for slot in slots:
            source, per_token = self._kv_layout(slot)
            self.ctx.spawn(GpuActor(
                slot.name, node=self.node_id, node_actor=self.name, gpu_type=slot.gpu_type,
                deployment=slot.deployment, opts=slot.opts, kv_blocks=slot.kv_blocks, host_blocks=slot.host_blocks,
                load_ns_per_block=slot.load_ns_per_block, engine=self.nctx.engine,
                router=self.nctx.router, cost=self.nctx.cost, step_mode=self.nctx.step_mode,
                report_interval_ns=self.nctx.load_report_interval_ns,
                role=slot.role, kv_actor=self.nctx.kv, kv_source=source, handoff_bytes_per_token=per_token,
            ))
            slot.ready = True
            self.ctx.send(self.nctx.router, ReplicaReady(replica=slot.name, node=self.node_id, model=slot.model,
                                                         gpu_type=slot.gpu_type, kv_total_blocks=slot.kv_blocks,
                                                         block_size=slot.opts.block_size, role=slot.role))

    def _kv_layout(self, slot: ReplicaSlot) -> tuple[KvSource | None, float]:
        """Disaggregated replicas: where their KV lives, and the bytes of one prompt token's KV a hand-off sends
        (all TP shards; with layer-wise overlap only the last layer's, the rest went during the prefill)."""
        if slot.role == "both":
            return None, 0.0
        cost = build_cost_model(slot.deployment, self.nctx.calibration, self.nctx.hardware_file)
        per_token = float(cost.kv_bytes_per_token_per_gpu * slot.tp)
        if self.nctx.layerwise_overlap:
            per_token /= cost.spec.num_layers
        source = KvSource(replica=slot.name, node=self.node_id, gpu_type=slot.gpu_type, tp=slot.tp,
                          nvlink_bytes_per_s=cost.hw.interconnect_bandwidth_bytes_per_s)
        return source, per_token

    # ---- provisioning ------------------------------------------------------------------
    @handles(ProvisionModel)
    def on_provision(self, msg: ProvisionModel) -> None:
        self.wanted_model = self.assigned_model = msg.model
        serving = [r for r in self.replicas.values() if r.model != msg.model and not r.leaving]
        if serving:
            self.replaced_model = serving[0].model
        for slot in serving:
            self._retire(slot, return_requests=msg.preempt)
        self._maybe_load_wanted()

    def _retire(self, slot: ReplicaSlot, return_requests: bool) -> None:
        """Stop routing to a replica and drain it (or hand its requests back at once)."""
        slot.leaving = True
        self.ctx.send(self.nctx.router, ReplicaGone(replica=slot.name, node=self.node_id, model=slot.model))
        if slot.ready:
            self.ctx.send(slot.name, Drain(return_requests=return_requests))
        else:
            self._forget(slot)

    def _forget(self, slot: ReplicaSlot) -> None:
        self.replicas.pop(slot.name, None)
        if slot.ready:
            self.ctx.emit(ReplicaRemoved(t_ns=self.ctx.now, node=self.node_id, replica=slot.name, model=slot.model))
        if not any(r.model == slot.model for r in self.replicas.values()):
            self.ctx.emit(ModelUnloaded(t_ns=self.ctx.now, node=self.node_id, model=slot.model))
        remove = min(self.to_remove[slot.gpu_type], slot.tp)
        if remove:
            self.to_remove[slot.gpu_type] -= remove
            self.gpus[slot.gpu_type] -= remove

    def _maybe_load_wanted(self) -> None:
        model = self.wanted_model
        if model is None or any(r.leaving for r in self.replicas.values()):
            return
        self.wanted_model = None
        slots, reason = self._new_slots(model, None)
        if not slots and not any(r.model == model for r in self.replicas.values()):
            self.ctx.emit(ProvisionRefusedEvent(t_ns=self.ctx.now, node=self.node_id, model=model, reason=reason))
            self.ctx.send(self.nctx.router, ProvisionRefused(node=self.node_id, model=model, reason=reason))
            return
        self._load(slots)

    @handles(ReplicaDrained)
    def on_drained(self, msg: ReplicaDrained) -> None:
        slot = self.replicas.get(msg.replica)
        self.ctx.stop_actor(msg.replica)
        if slot is not None:
            self._forget(slot)
        self._maybe_load_wanted()

    # ---- requests and load reports -----------------------------------------------------
    @handles(AssignRequest)
    def on_assign(self, msg: AssignRequest) -> None:
        slot = self.replicas.get(msg.replica)
        if slot is None or slot.leaving or not slot.ready:
            self.ctx.send(self.nctx.router, ReturnRequests(requests=(msg.request,), from_replica=msg.replica))
            return
        self.ctx.send(msg.replica, EnqueueRequest(request=msg.request))

    @handles(AssignDecode)
    def on_assign_decode(self, msg: AssignDecode) -> None:
        slot = self.replicas.get(msg.replica)
        if slot is None or slot.leaving or not slot.ready:
            self.ctx.send(self.nctx.router, ReturnHandOffs(handoffs=(msg.handoff,)))
            return
        self.ctx.send(msg.replica, ReserveKv(handoff=msg.handoff))

    # ---- environment changes -----------------------------------------------------------
    @handles(AddGpus)
    def on_add(self, msg: AddGpus) -> None:
        self.gpus[msg.gpu_type] += msg.amount
        self.ctx.emit(EnvironmentChanged(t_ns=self.ctx.now, gpu_type=msg.gpu_type, amount=msg.amount, node=self.node_id))
        models = sorted({r.model for r in self.replicas.values() if not r.leaving})
        if not models and self.wanted_model is None and self.assigned_model is not None:
            models = [self.assigned_model]  # every replica was removed: capacity is back for its model
        if models:  # a serving node puts its model on the new GPUs too (in the role its deployment gave it)
            slots, _ = self._new_slots(models[0], self._added_deployment(models[0], msg.gpu_type), only_type=msg.gpu_type)
            self._load(slots)

    def _added_deployment(self, model: str, gpu_type: str) -> DeploymentSpec | None:
        """For added GPUs of a disaggregated node: its deployment of `model` (the one of this GPU type's replicas
        if any), taking as many replicas as fit; None for the usual role (`both`), as before."""
        deps = [d for d in self.spec.deployments if d.model == model and d.role != "both"]
        if not deps:
            return None
        typed = [r.role for r in self.replicas.values() if r.gpu_type == gpu_type and r.model == model]
        dep = next((d for d in deps if typed and d.role == typed[0]), deps[0])
        return msgspec.structs.replace(dep, replicas=None)

    @handles(RemoveGpus)
    def on_remove(self, msg: RemoveGpus) -> None:
        """Give up GPUs: free ones at once, busy ones as their replicas drain; hand back what this node lacks."""
        t = msg.gpu_type
        take = min(self.gpus[t] - self.to_remove[t] - self.ranking[t], msg.amount)
        if take < msg.amount:
            self.ctx.send(self.nctx.engine, GpusNotRemoved(node=self.node_id, gpu_type=msg.gpu_type,
                                                           amount=msg.amount - max(take, 0)))
        if take <= 0:
            return
        self.ctx.emit(EnvironmentChanged(t_ns=self.ctx.now, gpu_type=msg.gpu_type, amount=-take, node=self.node_id))
        free = min(self.free_gpus(msg.gpu_type), take)
        self.gpus[msg.gpu_type] -= free
        left = take - free
        if left > 0:
            self.ranking[t] += left
            names = tuple(r.name for r in self.replicas.values() if r.gpu_type == msg.gpu_type and not r.leaving)
            self.ctx.send(self.nctx.router, RankReplicas(node=self.node_id, gpu_type=msg.gpu_type, amount=left,
                                                         replicas=names))

    @handles(ReplicaRanking)
    def on_ranking(self, msg: ReplicaRanking) -> None:
        """Retire replicas, idlest first, until `amount` GPUs are taken (busy ones hand back requests)."""
        self.ranking[msg.gpu_type] -= msg.amount
        left = msg.amount
        for name in msg.order:
            slot = self.replicas.get(name)
            if left <= 0:
                break
            if slot is None or slot.leaving:
                continue
            take = min(slot.tp, left)
            self.to_remove[msg.gpu_type] += take
            left -= take
            self._retire(slot, return_requests=True)
