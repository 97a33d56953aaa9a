"""The cost model of a deployment: model spec, GPU (with the node's interconnect) and precision put together."""

from __future__ import annotations

from llmsim.cost.cost_model import CostModel
from llmsim.cost.hardware import get_hardware, with_interconnect
from llmsim.cost.model_spec import load_model_spec
from llmsim.cost.precision import Precision
from protocols.cost import Deployment


def build_cost_model(dep: Deployment, calibration: str | None, hardware_file: str | None = None) -> CostModel:
    """Construct the cost model for a deployment (the cost service's, and the memory planner's)."""
    precision = Precision(dep.weight_bits, dep.activation_bits, dep.kv_bits, int_compute=dep.int_compute)
    hardware = with_interconnect(get_hardware(dep.hardware, hardware_file), dep.interconnect)
    return CostModel(load_model_spec(dep.model), hardware, tp=dep.tp, precision=precision, calibration=calibration,
                     custom_all_reduce=dep.custom_all_reduce)
