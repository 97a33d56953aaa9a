"""Assemble a simulated cluster from the run options, replay the workload, write the outputs."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import structlog

from actors.cost_service import CostServiceActor
from actors.global_engine import GlobalEngine
from actors.node import NodeActor, NodeContext
from actors.router import RouterActor
from llmsim.config import Environment, NodeSpec, ServingOptions, legacy_environment, load_env_changes, load_environment
from llmsim.cost import hardware_ids, load_model_spec, precision_from_dtype, resolve_model_name
from llmsim.errors import LlmsimError, UnknownModelError, UsageError
from llmsim.kernel import Simulation
from llmsim.kernel.clock import s_to_ns
from llmsim.options import ReplayOptions
from llmsim.output.events import RunStarted
from llmsim.output.outputs import OutputSet
from llmsim.output.progress import Progress
from llmsim.output.stats import StatsCollector, build_stats
from llmsim.policies import create_reprovisioning_policy, create_routing_policy
from llmsim.workload import ArrivalOptions, TraceRequest, open_trace, with_arrivals
from protocols.control import Finalize
from protocols.gpu import CollectStats

log = structlog.get_logger("llmsim")

ENGINE, ROUTER, COST = "engine", "router", "cost"


class ReplayResult(msgspec.Struct, kw_only=True):
    """What a replay returns to its caller: the stats document and where outputs went."""

    stats: dict[str, Any]
    outputs: OutputSet
    invariants: list[str]


def build_environment(opts: ReplayOptions) -> Environment:
    """The cluster: env.json, or the legacy N identical engines."""
    known = hardware_ids(opts.hardware_file)
    if opts.environment and opts.n_engines:
        raise UsageError("--environment and --n-engines cannot be used together", field="--n-engines",
                         expected="one of them")
    if opts.environment:
        return load_environment(opts.environment, known)
    if opts.hardware not in known:
        raise UsageError(f"unknown GPU id {opts.hardware!r}", field="--hardware", expected="one of " + ", ".join(known))
    return legacy_environment(opts.n_engines or 1, opts.hardware, opts.model, tp=opts.tp)


def make_resolver(override: str | None, default_model: str) -> Callable[[str | None], str | None]:
    """Map a trace's model field to a canonical model name (None when unknown), cached."""
    cache: dict[str, str | None] = {}

    def resolve(raw: str | None) -> str | None:
        name = override or raw or default_model
        if name not in cache:
            try:
                load_model_spec(name)
                cache[name] = resolve_model_name(name)
            except UnknownModelError:
                cache[name] = None
        return cache[name]

    if override:
        load_model_spec(override)  # a bad --model is a usage error before the run
    return resolve


def serving_override(opts: ReplayOptions) -> Callable[[ServingOptions], ServingOptions] | None:
    """Command-line serving options replace those of env.json."""
    fields = {k: getattr(opts, k) for k in ("max_num_batched_tokens", "max_num_seqs", "block_size",
                                            "gpu_memory_utilization", "enable_chunked_prefill")
              if getattr(opts, k) is not None}
    if not fields:
        return None
    return lambda base: msgspec.structs.replace(base, **fields)


def workload(opts: ReplayOptions, sim: Simulation) -> Iterator[tuple[int, TraceRequest]]:
    """The streamed, timed request iterator."""
    if opts.arrival_rate is not None and not opts.arrival_rate > 0:
        raise UsageError(f"arrival rate {opts.arrival_rate} is not positive", field="--arrival-rate",
                         expected="a number > 0")
    arrivals = ArrivalOptions(rate=opts.arrival_rate, burstiness=opts.burstiness, time_scale=opts.time_scale,
                              start_s=opts.start_s, duration_s=opts.duration_s, limit=opts.limit)
    return with_arrivals(open_trace(opts.input, opts.trace_format), arrivals, sim.rng)


class Cluster:
    """The actors of one run, wired together inside a Simulation."""

    def __init__(self, opts: ReplayOptions, env: Environment, sim: Simulation, collector: StatsCollector) -> None:
        self.opts, self.env, self.sim = opts, env, sim
        known = hardware_ids(opts.hardware_file)
        changes = load_env_changes(opts.environment_change_file, env, known) if opts.environment_change_file else []
        self.nctx = NodeContext(
            engine=ENGINE, router=ROUTER, cost=COST, infrastructure=env.infrastructure,
            loading=env.model_loading_config, defaults=env.defaults, calibration=opts.calibration,
            hardware_file=opts.hardware_file, step_mode=opts.step_mode,
            load_report_interval_ns=s_to_ns(opts.load_report_interval),
            precision_override=precision_from_dtype(opts.dtype) if opts.dtype else None,
            serving_override=serving_override(opts),
        )
        nodes = {n.node_id: f"node:{n.node_id}" for n in env.nodes}
        inventory = {n.node_id: Counter(dict(zip(n.gpu_types, n.gpu_count_per_type))) for n in env.nodes}
        initial = {n.node_id: n.deployments[0].model for n in env.nodes if n.deployments}
        resolve = make_resolver(opts.model, opts.default_model)
        initial = {k: resolve_model_name(v) for k, v in initial.items()}
        self.router = RouterActor(ROUTER, policy=create_routing_policy(opts.routing_policy), engine=ENGINE,
                                  nodes=dict(nodes), initial_models=initial,
                                  preempt_on_reprovision=opts.preempt_on_reprovision,
                                  reprovisioning=create_reprovisioning_policy(opts.reprovisioning_policy))
        sim.add_actor(CostServiceActor(COST, calibration=opts.calibration, hardware_file=opts.hardware_file))
        sim.add_actor(self.router)
        for spec in env.nodes:
            sim.add_actor(NodeActor(nodes[spec.node_id], self._resolved(spec, resolve), self.nctx))
        self.engine = GlobalEngine(
            ENGINE, workload=workload(opts, sim), router=ROUTER, resolve_model=resolve, nodes=nodes,
            inventory=inventory, env_changes=changes, strict=opts.strict,
            print_interval_ns=s_to_ns(opts.print_interval) if opts.print_interval > 0 else 0,
            on_progress=Progress(quiet=opts.quiet), on_gpu_stats=collector.add_gpu_stats, new_node=self._new_node,
        )
        sim.add_actor(self.engine)

    @staticmethod
    def _resolved(spec: NodeSpec, resolve: Callable[[str | None], str | None]) -> NodeSpec:
        deps = []
        for dep in spec.deployments:
            name = resolve_model_name(dep.model)
            load_model_spec(dep.model)
            deps.append(msgspec.structs.replace(dep, model=name))
        return msgspec.structs.replace(spec, deployments=deps)

    def _new_node(self, gpu_type: str) -> tuple[int, str]:
        """A node created at run time for GPUs of a type no node has."""
        node_id = max(self.router.nodes) + 1
        name = f"node:{node_id}"
        spec = NodeSpec(node_id=node_id, name=f"added-{gpu_type}", gpu_types=[gpu_type], gpu_count_per_type=[0])
        self.sim.add_actor(NodeActor(name, spec, self.nctx))
        self.router.nodes[node_id] = name
        self.router.node_models[node_id] = None
        self.router.last_used_ns[node_id] = 0
        return node_id, name

    def gpu_actor_names(self) -> list[str]:
        """Names of the GPU actors alive now."""
        from actors.gpu import GpuActor

        return [name for name, a in self.sim.actors.items() if isinstance(a, GpuActor)]


def check_invariants(stats: dict[str, Any], engine: GlobalEngine, collector: StatsCollector) -> list[str]:
    """Cheap end-of-run checks; each violation is a bug in llmsim, reported loudly."""
    problems = []
    r = stats["requests"]
    if r["total"] != r["completed"] + r["failed"]:
        problems.append(f"requests entered {r['total']} != completed {r['completed']} + failed {r['failed']}")
    if r["read"] != r["total"] + r["skipped_invalid"]:
        problems.append(f"requests read {r['read']} != entered {r['total']} + skipped {r['skipped_invalid']}")
    for g in collector.gpus:
        if g.kv_used_blocks_at_end:
            problems.append(f"{g.replica} still holds {g.kv_used_blocks_at_end} KV blocks at the end")
        if g.busy_until_ns > engine.ctx.now:
            problems.append(f"{g.replica} busy until {g.busy_until_ns} ns, past the end {engine.ctx.now} ns")
    return problems


def run_replay(opts: ReplayOptions) -> ReplayResult:
    """Replay a trace through a simulated cluster and write stats, requests, events and trace."""
    env = build_environment(opts)
    collector = StatsCollector(opts.slo_ttft_s, opts.slo_tpot_s)
    outputs = OutputSet(opts.output_dir, enabled=opts.write_outputs, trace_detail=opts.trace_detail,
                        trace_output=opts.trace_output, stats_output=opts.stats_output,
                        events_output=opts.events_output, requests_output=opts.requests_output)
    sim = Simulation(seed=opts.seed, sinks=[collector, *outputs.sinks])
    wall0 = time.perf_counter()
    try:
        cluster = Cluster(opts, env, sim, collector)
        sim.emit(RunStarted(t_ns=0, seed=opts.seed, description=env.description))
        _run_to_end(sim, cluster)
    except LlmsimError as err:
        if err.file is None and err.line is not None:
            err.file = opts.input
        raise
    finally:
        outputs.close()
    stats = build_stats(collector, entered=cluster.engine.entered, read=cluster.engine.read,
                        simulated_ns=collector.last_finish_ns or sim.now, wall_s=time.perf_counter() - wall0, events=sim.events)
    problems = check_invariants(stats, cluster.engine, collector)
    stats["invariants"] = {"ok": not problems, "violations": problems}
    if opts.write_outputs:
        outputs.write_stats(stats)
    for p in problems:
        log.error("invariant violated", detail=p)
    return ReplayResult(stats=stats, outputs=outputs, invariants=problems)


def _run_to_end(sim: Simulation, cluster: Cluster) -> None:
    """Run to quiescence, fail what cannot be served, then collect per-GPU statistics."""
    sim.run()
    sim.post("driver", ROUTER, Finalize())
    sim.run()
    end = sim.now
    for name in cluster.gpu_actor_names():
        sim.post("driver", name, CollectStats())
    sim.run()
    sim.now = end
