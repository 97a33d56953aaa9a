"""Replica sizing: the smallest tensor-parallel degree whose weights and KV cache fit a GPU type.

The one rule the node (placing replicas) and the --strict pre-pass (refusing models that fit
nowhere) both ask.
"""

from __future__ import annotations

from llmsim.config.engine_limits import EngineFamily, default_limits
from llmsim.config.environment import NodeSpec, ServingOptions
from llmsim.cost.build import build_cost_model
from llmsim.cost.hardware import get_hardware
from llmsim.cost.model_spec import load_model_spec
from llmsim.cost.precision import Precision
from llmsim.memory.planner import MemoryPlan, plan_replica
from protocols.cost import Deployment

TP_CHOICES = (1, 2, 4, 8, 16)


def placed_options(opts: ServingOptions, model: str, gpu_type: str, memory_bytes: int,
                   engine: EngineFamily = "vllm-v1", offline: bool = False) -> ServingOptions:
    """`opts` on this GPU: batch limits not given become the engine's defaults for the GPU and model."""
    if opts.placed:
        return opts
    return opts.with_limits(default_limits(engine, gpu_type, memory_bytes, offline=offline,
                                           max_model_len=load_model_spec(model).max_position_embeddings))


def gpu_memory_bytes(node: NodeSpec, gpu_type: str, hardware_file: str | None) -> int:
    """Memory of one GPU of this type on this node: env.json's `memory_per_gpu_gb`, else the hardware table's."""
    if node.memory_per_gpu_gb and gpu_type in node.gpu_types:
        gb = node.memory_per_gpu_gb[node.gpu_types.index(gpu_type)]
        if gb is not None:
            return int(gb * (1 << 30))
    return int(get_hardware(gpu_type, hardware_file).memory_bytes)


def deployment(model: str, gpu_type: str, tp: int, precision: Precision | None = None,
               interconnect: str | None = None, custom_all_reduce: bool = True) -> Deployment:
    """What a replica of `tp` GPUs of `gpu_type` runs (default precision when None)."""
    if precision is None:
        return Deployment(model=model, hardware=gpu_type, tp=tp, interconnect=interconnect,
                          custom_all_reduce=custom_all_reduce)
    return Deployment(model=model, hardware=gpu_type, tp=tp, interconnect=interconnect,
                      custom_all_reduce=custom_all_reduce, weight_bits=precision.weight_bits, activation_bits=precision.activation_bits,
                      kv_bits=precision.kv_bits, int_compute=precision.int_compute)


def size_replica(model: str, gpu_type: str, *, gpus: int, memory_bytes: int, opts: ServingOptions,
                 precision: Precision | None, calibration: str | None, hardware_file: str | None,
                 tp: int | None = None, interconnect: str | None = None, engine: EngineFamily = "vllm-v1",
                 offline: bool = False) -> tuple[Deployment, MemoryPlan]:
    """The first TP degree (`tp` alone when given) whose replica fits, trying no more GPUs than `gpus`
    (one degree at least); when none fits, the last one tried, with the reason in its plan. Batch limits
    not given in `opts` are `engine`'s defaults for the GPU (they size the activation reserve)."""
    opts = placed_options(opts, model, gpu_type, memory_bytes, engine, offline)
    result: tuple[Deployment, MemoryPlan] | None = None
    for degree in (tp,) if tp else TP_CHOICES:
        if degree > max(gpus, 1) and result is not None:
            break
        dep = deployment(model, gpu_type, degree, precision, interconnect, not opts.disable_custom_all_reduce)
        mem = plan_replica(build_cost_model(dep, calibration, hardware_file), memory_bytes,
                           opts.gpu_memory_utilization, opts.token_budget, opts.block_size, opts.seq_limit)
        result = (dep, mem)
        if mem.fits:
            break
    assert result is not None
    return result
