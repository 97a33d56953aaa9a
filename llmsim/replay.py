"""Assemble a simulated cluster from the run options, replay the workload, write the outputs."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import numpy as np

from actors.cost_service import CostServiceActor
from actors.global_engine import GlobalEngine, RunTally
from actors.kv_transfer import KvTransferActor
from actors.node import NodeActor, NodeContext
from actors.router import RouterActor
from llmsim.config.environment import MAX_GPUS
from llmsim.config import Environment, NodeSpec, ServingOptions, legacy_environment, load_env_changes, load_environment
from llmsim.cost import get_hardware, hardware_ids, load_model_spec, precision_from_dtype, resolve_model_name, with_interconnect
from llmsim.cost.cost_model import custom_all_reduce_possible
from llmsim.cost.precision import Precision, with_kv_cache_dtype
from llmsim.cost.calibration import get_profile, resolve_profile_name
from llmsim.cost.fidelity import run_fidelity
from llmsim.errors import ConfigError, InputFileError, LlmsimError, OutputError, UnknownModelError, UsageError
from llmsim.interrupt import StopOnSignal, StoppedBySignal
from llmsim.kernel import Simulation
from llmsim.kernel.clock import NS_PER_S, s_to_ns
from llmsim.logging_setup import get_logger
from llmsim.model_names import ModelNames
from llmsim.network.topology import Topology
from llmsim.options import ReplayOptions
from llmsim.output.events import RequestSkipped, RunStarted
from llmsim.output.deployment import START_CHOICES, Deployment, ModelLoads, NodeGpus, StartKind, group_replicas
from llmsim.output.outputs import OutputSet
from llmsim.output.progress import Progress
from llmsim.output.run_section import run_section
from llmsim.output.stats import StatsCollector, build_stats
from llmsim.policies import create_reprovisioning_policy, create_routing_policy
from llmsim.preflight import (
    TokenFilter, ModelChecker, check_deployments_fit, fits_somewhere, gpu_offers, locate_utf8_error, strict_prepass,
)
from llmsim.workload import ArrivalOptions, TraceRequest, open_trace, with_arrivals
from protocols.control import Finalize
from protocols.gpu import CollectStats

log = get_logger()

ENGINE, ROUTER, COST, KV = "engine", "router", "cost", "kv"
DEFAULT_PROGRESS_INTERVAL_S = 1.0


class ReplayResult(msgspec.Struct, kw_only=True):
    """What a replay returns to its caller: the stats document and where outputs went."""

    stats: dict[str, Any]
    outputs: OutputSet
    invariants: list[str]
    signal: int = 0  # the signal (SIGINT, SIGTERM) that stopped the run early; 0 when it ran to the end


def disaggregated(env: Environment) -> bool:
    """True when some deployment is a prefill or decode pool (requests move between replicas)."""
    return any(dep.role != "both" for node in env.nodes for dep in node.deployments)


def build_environment(opts: ReplayOptions) -> Environment:
    """The cluster: env.json, or the legacy N identical engines."""
    known = hardware_ids(opts.hardware_file)
    if opts.environment and opts.n_engines:
        raise UsageError("--environment and --n-engines cannot be used together", field="--n-engines",
                         expected="one of them")
    if opts.model:
        _check_cli_model(opts.model, "--model")
    if opts.default_model:
        _check_cli_model(opts.default_model, "--default-model")
    if opts.start is not None and opts.start not in START_CHOICES:
        raise UsageError(f"start {opts.start!r}", field="start", expected="warm or cold")
    if opts.environment:
        env = load_environment(opts.environment, known)
        _check_deployment_models(env, opts.environment)
        _check_interconnects(env, opts.environment, opts.hardware_file)
        check_deployments_fit(env, opts.environment, serving_override(opts), precision_override(opts), opts.calibration,
                              opts.hardware_file, engine=opts.engine or "vllm-v1", offline=opts.offline)
    else:
        if opts.hardware not in known:
            raise UsageError(f"unknown GPU id {opts.hardware!r}", field="--hardware", expected="one of " + ", ".join(known))
        if opts.tp > 1 and not (opts.model or opts.default_model):
            raise UsageError(f"--tp {opts.tp} sets the engines' model's degree, but no model was given", field="--tp",
                             expected="--model NAME or --default-model NAME with --n-engines and --tp")
        if (opts.n_engines or 1) * opts.tp > MAX_GPUS:
            raise UsageError(f"{opts.n_engines} engines of tp={opts.tp} make too many GPUs", field="--n-engines",
                             expected=f"at most {MAX_GPUS:,} GPUs")
        env = legacy_environment(opts.n_engines or 1, opts.hardware, opts.model or opts.default_model, tp=opts.tp)
    warm = start_of(opts, env.model_loading_config.preload_models)[0] == "warm"
    if warm != env.model_loading_config.preload_models:
        env = msgspec.structs.replace(
            env, model_loading_config=msgspec.structs.replace(env.model_loading_config, preload_models=warm))
    return env


def start_of(opts: ReplayOptions, preload: bool) -> tuple[StartKind, str]:
    """Warm or cold start, and what decided it: --start, env.json's preload_models, or the --n-engines default.

    Warm: the initial deployments are in GPU memory at time 0. Cold: they load their weights when the
    run starts (disk, PCIe and warm-up time from env.json's infrastructure). Either way, a model
    provisioned later (on demand, re-provisioning, added GPUs) pays its load time.
    """
    if opts.start is not None:
        return ("warm" if opts.start == "warm" else "cold"), f"--{opts.start}-start"
    if opts.environment is None:
        if not (opts.model or opts.default_model):
            return "cold", "--n-engines without --model: each engine loads the trace's model for its first request"
        return "warm", "--n-engines default; --cold-start loads the weights first"
    # (without --start, `preload` is env.json's own value: build_environment leaves it unchanged)
    return ("warm" if preload else "cold"), f"env.json model_loading_config.preload_models {str(preload).lower()}"


def _check_deployment_models(env: Environment, path: str) -> None:
    """Every model deployed at start must be known, named with its place in env.json."""
    for i, node in enumerate(env.nodes):
        for j, dep in enumerate(node.deployments):
            try:
                load_model_spec(dep.model)
            except UnknownModelError as err:
                err.file, err.field = path, f"nodes[{i}].deployments[{j}].model"
                raise


def _check_interconnects(env: Environment, path: str, hardware_file: str | None) -> None:
    """A node's `interconnect` must be one its GPU types have figures for (checked before the run)."""
    for i, node in enumerate(env.nodes):
        for gpu_type in node.gpu_types:
            try:
                with_interconnect(get_hardware(gpu_type, hardware_file), node.interconnect)
            except ConfigError as err:
                err.file, err.field = path, f"nodes[{i}].interconnect"
                raise


def _check_cli_model(name: str, option: str) -> None:
    """--model and --default-model must name a known model (a usage error before the run)."""
    try:
        load_model_spec(name)
    except UnknownModelError as err:
        err.field = option
        raise


def model_names(opts: ReplayOptions, env: Environment) -> ModelNames:
    """The model rules of this run: --model, --default-model, and the models env.json deploys."""
    deployed = [dep.model for node in env.nodes for dep in node.deployments]
    return ModelNames(override=opts.model, default_model=opts.default_model, deployed=deployed)


def check_first_request_model(opts: ReplayOptions, names: ModelNames) -> None:
    """Refuse before the run a trace whose first request has no model when nothing supplies one."""
    if names.override or names.default:
        return
    first = next(iter(open_trace(opts.input, opts.trace_format)), None)
    if first is not None and not first.model:
        err = names.missing_model_error()
        err.file, err.line = opts.input, first.line
        raise err


def serving_override(opts: ReplayOptions) -> Callable[[ServingOptions], ServingOptions] | None:
    """Command-line serving options replace those of env.json."""
    fields = {k: getattr(opts, k) for k in ("max_num_batched_tokens", "max_num_seqs", "block_size",
                                            "gpu_memory_utilization", "enable_chunked_prefill", "scheduling",
                                            "enable_prefix_caching", "async_scheduling", "disable_custom_all_reduce")
              if getattr(opts, k) is not None}
    if not fields:
        return None
    return lambda base: msgspec.structs.replace(base, **fields)


def precision_override(opts: ReplayOptions) -> Callable[[Precision | None], Precision | None] | None:
    """--dtype replaces every deployment's precision, --kv-cache-dtype its KV cache (None: neither given)."""
    dtype, kv = opts.dtype, opts.kv_cache_dtype
    if dtype is None and kv is None:
        return None

    def apply(precision: Precision | None) -> Precision | None:
        base = precision_from_dtype(dtype) if dtype else precision
        return with_kv_cache_dtype(base or Precision(), kv) if kv else base

    return apply


def timed_requests(opts: ReplayOptions, rng: np.random.Generator) -> Iterator[tuple[int, TraceRequest]]:
    """The trace streamed with its arrival times (windowed, scaled or generated)."""
    check_option_conflicts(opts)
    arrivals = ArrivalOptions(rate=opts.arrival_rate, burstiness=opts.burstiness, time_scale=opts.time_scale,
                              start_s=opts.start_s, duration_s=opts.duration_s, limit=opts.limit,
                              process=opts.arrival_process)
    requests = open_trace(opts.input, opts.trace_format)
    return with_arrivals(requests, arrivals, rng, source=opts.input)


def check_option_conflicts(opts: ReplayOptions) -> None:
    """Options that exclude or need each other (checked first, before any file is read)."""
    if opts.environment and opts.n_engines:
        raise UsageError("--environment and --n-engines cannot be used together", field="--n-engines",
                         expected="one of them")
    if opts.concurrency is not None and opts.arrival_rate is not None:
        raise UsageError("--concurrency (closed loop) and --arrival-rate (open loop) exclude each other",
                         field="--concurrency", expected="one of the two")
    if opts.concurrency is None and opts.think_time_s:
        raise UsageError("--think-time needs --concurrency", field="--think-time")
    if opts.arrival_rate is not None and not opts.arrival_rate > 0:
        raise UsageError(f"arrival rate {opts.arrival_rate} is not positive", field="--arrival-rate",
                         expected="a number > 0")


def workload(opts: ReplayOptions, sim: Simulation, collector: StatsCollector) -> TokenFilter:
    """The streamed, timed request iterator, bad token counts skipped (or refused with --strict);
    a request's own SLO targets go to the statistics."""

    def skip(tr: TraceRequest, reason: str) -> None:
        sim.emit(RequestSkipped(t_ns=sim.now, request_id=tr.id, line=tr.line, reason=reason))

    def slo(tr: TraceRequest) -> None:
        collector.add_request_slo(tr.id, tr.slo_ttft_s, tr.slo_tpot_s)

    return TokenFilter(timed_requests(opts, sim.rng), strict=opts.strict, on_skip=skip, on_slo=slo)


def preflight(opts: ReplayOptions, env: Environment) -> None:
    """Validation before any output is opened: env changes, models, and with --strict the whole trace."""
    known = hardware_ids(opts.hardware_file)
    changes = load_env_changes(opts.environment_change_file, env, known) if opts.environment_change_file else []
    names = model_names(opts, env)
    check_first_request_model(opts, names)
    if not opts.strict:
        return
    serving = env.defaults
    override = serving_override(opts)
    serving = override(serving) if override is not None else serving
    by_flags = precision_override(opts)
    precision = by_flags(None) if by_flags is not None else None
    offers = gpu_offers(env, changes, opts.hardware_file)
    checker = ModelChecker(lambda model: fits_somewhere(model, offers, serving, precision, opts.calibration,
                                                        opts.hardware_file, opts.engine or "vllm-v1", opts.offline),
                           names.check)
    if opts.model:
        checker.check(opts.model, None, "--model")
    strict_prepass(timed_requests(opts, np.random.default_rng(opts.seed)), checker, override=opts.model,
                   name_for=names.name_for)


class Cluster:
    """The actors of one run, wired together inside a Simulation."""

    def __init__(self, opts: ReplayOptions, env: Environment, sim: Simulation, collector: StatsCollector) -> None:
        self.opts, self.env, self.sim = opts, env, sim
        known = hardware_ids(opts.hardware_file)
        changes = load_env_changes(opts.environment_change_file, env, known) if opts.environment_change_file else []
        self.changes = changes
        self.nctx = NodeContext(
            engine=ENGINE, router=ROUTER, cost=COST, infrastructure=env.infrastructure,
            loading=env.model_loading_config, defaults=env.defaults, calibration=opts.calibration,
            hardware_file=opts.hardware_file, step_mode=opts.step_mode,
            load_report_interval_ns=s_to_ns(opts.load_report_interval),
            precision_override=precision_override(opts),
            serving_override=serving_override(opts), host_kv_cache_gb=opts.host_kv_cache_gb,
            kv=KV, layerwise_overlap=env.disaggregation.layerwise_overlap,
            engine_family=opts.engine or "vllm-v1", offline=opts.offline,
        )
        nodes = {n.node_id: f"node:{n.node_id}" for n in env.nodes}
        gpu_types = {n.node_id: tuple(n.gpu_types) for n in env.nodes}
        initial = {n.node_id: n.deployments[0].model for n in env.nodes if n.deployments}
        resolve = model_names(opts, env).resolver()
        initial = {k: resolve_model_name(v) for k, v in initial.items()}
        self.router = RouterActor(ROUTER, policy=create_routing_policy(opts.routing_policy), engine=ENGINE,
                                  nodes=dict(nodes), initial_models=initial,
                                  preempt_on_reprovision=opts.preempt_on_reprovision,
                                  reprovisioning=create_reprovisioning_policy(opts.reprovisioning_policy),
                                  frontend_ns=s_to_ns(frontend_overhead_s(opts, env)),
                                  decode_policy=create_routing_policy(env.disaggregation.decode_policy))
        sim.add_actor(CostServiceActor(COST, calibration=opts.calibration, hardware_file=opts.hardware_file))
        if disaggregated(env):
            topology = Topology({n.node_id: n.network_bandwidth_gbps for n in env.nodes},
                                env.infrastructure.network_bandwidth_gbps)
            sim.add_actor(KvTransferActor(KV, topology=topology,
                                          latency_ns=round(env.disaggregation.transfer_latency_us * 1000)))
        sim.add_actor(self.router)
        for spec in env.nodes:
            sim.add_actor(NodeActor(nodes[spec.node_id], self._resolved(spec, resolve), self.nctx))
        self.workload = workload(opts, sim, collector)
        self.engine = GlobalEngine(
            ENGINE, workload=self.workload, router=ROUTER, resolve_model=resolve, nodes=nodes,
            node_gpu_types=gpu_types, env_changes=changes,
            on_gpu_stats=collector.add_gpu_stats, node_context=self.nctx,
            concurrency=opts.concurrency or 0, think_time_ns=s_to_ns(opts.think_time_s),
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

    def gpu_actor_names(self) -> list[str]:
        """Names of the GPU actors alive now."""
        from actors.gpu import GpuActor

        return [name for name, a in self.sim.actors.items() if isinstance(a, GpuActor)]


def frontend_overhead_s(opts: ReplayOptions, env: Environment) -> float:
    """The API server's time per request (the calibration's; the largest over the run's GPU types), 0 offline."""
    if opts.offline:
        return 0.0
    gpu_types = {t for n in env.nodes for t in n.gpu_types}
    return max((get_profile(opts.calibration, t).frontend_overhead_s for t in gpu_types), default=0.0)


def memory_overrides(node: NodeSpec, hardware_file: str | None) -> dict[str, float]:
    """GPU type -> env.json's memory per GPU (GB) where it differs from the hardware table's card."""
    out: dict[str, float] = {}
    for gpu, given in zip(node.gpu_types, node.memory_per_gpu_gb or []):
        if abs(given * (1 << 30) - get_hardware(gpu, hardware_file).memory_bytes) > (1 << 29):
            out[gpu] = given
    return out


def serving_values(opts: ReplayOptions, env: Environment, field: str) -> list[Any]:
    """The values a serving option takes on the run's replicas: env.json's defaults and deployments, overridden."""
    override = serving_override(opts)
    options = [env.defaults] + [d.serving for n in env.nodes for d in n.deployments if d.serving is not None]
    return sorted({getattr(override(o) if override else o, field) for o in options})


def check_invariants(stats: dict[str, Any], tally: RunTally, collector: StatsCollector) -> list[str]:
    """Cheap end-of-run checks; each violation is a bug in llmsim, reported loudly.

    A complete run accounts for every request read (entered + skipped) and every request entered
    (completed + failed), and leaves no KV block held and no GPU busy past the end. An
    interrupted run reports the requests in flight as unfinished instead.
    """
    r = stats["requests"]
    problems = _request_problems(r, tally, complete=bool(stats["complete"]))
    if stats["complete"]:
        problems += _gpu_problems(tally.now_ns, collector)
    return problems


def _request_problems(r: dict[str, Any], tally: RunTally, *, complete: bool) -> list[str]:
    problems = []
    accounted = r["completed"] + r["failed"] + r.get("unfinished", 0)
    if r["total"] != accounted:
        problems.append(f"requests entered {r['total']} != completed {r['completed']} + failed {r['failed']}"
                        f" + unfinished {r.get('unfinished', 0)}")
    pending = r["read"] - r["total"] - r["skipped_invalid"]
    if pending != 0 and not (not complete and pending == 1):  # one read request may await its arrival
        problems.append(f"requests read {r['read']} != entered {r['total']} + skipped {r['skipped_invalid']}")
    if r.get("unfinished", 0) < 0:
        problems.append(f"{r['unfinished']} unfinished requests: more finished than entered")
    if complete:
        if r.get("unfinished", 0):
            problems.append(f"{r['unfinished']} requests entered but never finished")
        if tally.finished != tally.entered:
            problems.append(f"the engine saw {tally.finished} of {tally.entered} requests finish")
        if not tally.exhausted:
            problems.append("the run ended before the whole trace was read")
    if complete and (tally.completed, tally.failed) != (r["completed"], r["failed"]):
        problems.append(f"engine counted {tally.completed} completed / {tally.failed} failed, "
                        f"events {r['completed']} / {r['failed']}")
    return problems


def _gpu_problems(end_ns: int, collector: StatsCollector) -> list[str]:
    problems = []
    for g in collector.gpus:
        if g.kv_used_blocks_at_end:
            problems.append(f"{g.replica} still holds {g.kv_used_blocks_at_end} KV blocks at the end")
        if g.kv_block_imbalance:
            problems.append(f"{g.replica}: {g.kv_block_imbalance} KV blocks in use that no sequence holds")
        if g.kv_cached_blocks_at_end > g.kv_total_blocks:
            problems.append(f"{g.replica}: {g.kv_cached_blocks_at_end} cached blocks in a pool of {g.kv_total_blocks}")
        if g.busy_until_ns > end_ns:
            problems.append(f"{g.replica} busy until {g.busy_until_ns} ns, past the end {end_ns} ns")
    if collector.last_finish_ns > end_ns:
        problems.append(f"a request finished at {collector.last_finish_ns} ns, past the end {end_ns} ns")
    return problems


def run_replay(opts: ReplayOptions) -> ReplayResult:
    """Replay a trace through a simulated cluster and write stats, requests, events and trace.

    SIGINT/SIGTERM stop the run at the current virtual time: the outputs are closed whole,
    stats.json says `"complete": false`, and the result carries the signal.
    """
    with located_errors(opts):
        check_option_conflicts(opts)
        outputs = plan_outputs(opts)
        env = build_environment(opts)
        preflight(opts, env)
        return _replay(opts, env, outputs)


@contextmanager
def located_errors(opts: ReplayOptions) -> Iterator[None]:
    """Name the trace in errors that only know their line; turn I/O failures into one-line errors."""
    try:
        yield
    except LlmsimError as err:
        if err.file is None and err.line is not None:
            err.file = opts.input
        locate_utf8_error(err)
        raise
    except OSError as err:  # a writer failing mid-run: disk full, folder removed
        where = str(err.filename or opts.output_dir)
        kind = InputFileError if where == opts.input else OutputError
        raise kind(f"I/O error: {err.strerror or err}", file=where) from err


def progress_interval_s(opts: ReplayOptions) -> float:
    """--print-interval wall seconds between progress lines, or one second."""
    return opts.print_interval if opts.print_interval > 0 else DEFAULT_PROGRESS_INTERVAL_S


def plan_outputs(opts: ReplayOptions) -> OutputSet:
    """The run's outputs, checked (no links, no inputs, no clashes) without touching the disk."""
    return OutputSet(opts.output_dir, enabled=opts.write_outputs, trace_detail=opts.trace_detail,
                     trace_output=opts.trace_output, stats_output=opts.stats_output,
                     events_output=opts.events_output, requests_output=opts.requests_output,
                     inputs=input_files(opts))


def input_files(opts: ReplayOptions) -> list[tuple[str, str | None]]:
    """(option, path) of every file the run reads."""
    return [("--input", opts.input), ("--environment", opts.environment),
            ("--environment-change-file", opts.environment_change_file), ("--hardware-file", opts.hardware_file),
            ("--model", opts.model), ("--default-model", opts.default_model)]


def _replay(opts: ReplayOptions, env: Environment, outputs: OutputSet) -> ReplayResult:
    collector = StatsCollector(opts.slo_ttft_s, opts.slo_tpot_s)
    sim = Simulation(seed=opts.seed, sinks=[collector])
    wall0 = time.perf_counter()
    progress = Progress(quiet=opts.quiet)
    gpus = Counter({t: 0 for n in env.nodes for t in n.gpu_types})
    for n in env.nodes:
        gpus.update(dict(zip(n.gpu_types, n.gpu_count_per_type)))
    log.debug("run starting", input=opts.input, nodes=len(env.nodes), gpus=dict(gpus), routing=opts.routing_policy,
              calibration=opts.calibration, seed=opts.seed, fast_forward=not opts.step_mode,
              outputs=opts.output_dir if opts.write_outputs else None)
    with StopOnSignal(sim.stop) as stop:
        cluster = Cluster(opts, env, sim, collector)
        if stop.signum is not None:  # a signal while starting up: stop before any output exists
            raise StoppedBySignal(stop.signum)
        outputs.open()
        try:
            for sink in outputs.sinks:
                sim.add_sink(sink)
            sim.emit(RunStarted(t_ns=0, seed=opts.seed, description=env.description))
            progress.start(cluster.engine, progress_interval_s(opts))
            try:
                _run_to_end(sim, cluster)
            finally:
                progress.close()
            outputs.close()
            stats = _stats(cluster, collector, sim, stop.signum, wall_s=time.perf_counter() - wall0)
            problems = check_invariants(stats, cluster.engine.tally(), collector)
            stats["invariants"] = {"ok": not problems, "violations": problems}
            stats["run"] = run_section(opts, env)
            outputs.commit(stats)
        except BaseException:
            outputs.abort()
            raise
    sim_stats, req = stats["simulation"], stats["requests"]
    log.debug("run finished", wall_s=round(sim_stats["wall_s"], 3), simulated_s=round(sim_stats["simulated_s"], 3),
              events=sim_stats["events"], events_per_s=round(sim_stats["events"] / max(sim_stats["wall_s"], 1e-9)),
              completed=req["completed"], failed=req["failed"], complete=stats["complete"])
    for p in problems:
        log.error("invariant violated", detail=p)
    return ReplayResult(stats=stats, outputs=outputs, invariants=problems, signal=stop.signum or 0)


def _stats(cluster: Cluster, collector: StatsCollector, sim: Simulation, signum: int | None,
           wall_s: float) -> dict[str, Any]:
    """stats.json of a finished or interrupted run; requests in flight are counted unfinished."""
    tally = cluster.engine.tally()
    complete = signum is None
    extra = None if signum is None else {"interrupted": {"signal": signal.Signals(signum).name,
                                                   "reached_s": sim.now / NS_PER_S}}
    stats = build_stats(collector, entered=tally.entered, read=tally.read + cluster.workload.skipped,
                        simulated_ns=sim.now if not complete else collector.last_finish_ns or sim.now,
                        wall_s=wall_s, events=sim.events, complete=complete, extra=extra)
    r = stats["requests"]
    r["unfinished"] = r["total"] - r["completed"] - r["failed"]
    gpus = [g for node in stats["nodes"].values() for g in node["gpus"]]
    stats["fidelity"] = run_fidelity(gpus, cluster.opts.calibration, cluster.opts.dtype)
    stats["deployment"] = msgspec.to_builtins(describe_deployment(cluster, collector))
    return stats


def _custom_all_reduce_values(cluster: Cluster, collector: StatsCollector) -> list[bool]:
    """Whether the replicas all-reduce through the engine's custom kernel: the serving options' values,
    with False added where a TP group's GPUs cannot run it (more than two over PCIe)."""
    opts, env = cluster.opts, cluster.env
    requested = {not v for v in serving_values(opts, env, "disable_custom_all_reduce")}
    links = {n.node_id: n.interconnect for n in env.nodes}
    possible = {custom_all_reduce_possible(
        with_interconnect(get_hardware(g.gpu_type, opts.hardware_file), links.get(g.node)).interconnect, g.tp)
        for g in collector.gpus if g.tp > 1}
    if True not in requested or not possible:
        return sorted(requested)
    return sorted((requested - {True}) | possible)


def describe_deployment(cluster: Cluster, collector: StatsCollector) -> Deployment:
    """What ran: the cluster at the start, the replicas at the end, engine, routing, start and load cost."""
    opts, env = cluster.opts, cluster.env
    calibration = opts.calibration or "none"

    def profile(gpu_type: str) -> str:
        return "none" if opts.calibration is None else resolve_profile_name(opts.calibration, gpu_type)

    replicas = group_replicas([(g.model, g.gpu_type, g.tp, g.node, profile(g.gpu_type), g.role, g.max_num_seqs,
                                g.max_num_batched_tokens, g.chunked_prefill, g.precision) for g in collector.gpus])
    loads = collector.loads
    start, start_from = start_of(opts, env.model_loading_config.preload_models)
    return Deployment(
        input=opts.input,
        environment=opts.environment or f"--n-engines {opts.n_engines or 1}",
        environment_changes=len(cluster.changes),
        models=sorted({g.model for g in replicas} | {x["model"] for x in loads}),
        nodes=[NodeGpus(node=n.node_id, name=n.name, gpus=dict(zip(n.gpu_types, n.gpu_count_per_type)),
                        memory_gb=memory_overrides(n, opts.hardware_file)) for n in env.nodes],
        gpu_names={t: get_hardware(t, opts.hardware_file).name for n in env.nodes for t in n.gpu_types},
        replicas=replicas, calibration=calibration, async_scheduling=serving_values(opts, env, "async_scheduling"),
        custom_all_reduce=_custom_all_reduce_values(cluster, collector),
        frontend_overhead_ms=1e3 * frontend_overhead_s(opts, env), offline=opts.offline, routing=opts.routing_policy,
        reprovisioning=opts.reprovisioning_policy, start=start, start_from=start_from,
        model_loads=ModelLoads(count=sum(1 for x in loads if x["load_s"] > 0),
                               longest_s=max((x["load_s"] for x in loads), default=0.0),
                               total_s=sum(x["load_s"] for x in loads), requests_waited=collector.requests_waited),
    )


class EndOfRun:
    """What the driver does each time the run goes quiet: first fail what waits for capacity, then
    collect every GPU's statistics; after that the run is over (see Simulation.run's on_idle)."""

    def __init__(self, sim: Simulation, cluster: Cluster) -> None:
        self.sim, self.cluster, self.stage = sim, cluster, 0

    def __call__(self) -> bool:
        self.stage += 1
        if self.stage == 1:
            self.sim.post("driver", ROUTER, Finalize())
            return True
        if self.stage == 2:
            for name in self.cluster.gpu_actor_names():
                self.sim.post("driver", name, CollectStats())
            return True
        return False


def _run_to_end(sim: Simulation, cluster: Cluster) -> None:
    """Run to quiescence, fail what cannot be served, then collect per-GPU statistics: one loop.

    A stop request (a signal) ends it at the current virtual time, with nothing more delivered.
    """
    sim.run(on_idle=EndOfRun(sim, cluster))
