"""Roofline cost model: hardware table, model specs, operators, calibration and iteration times."""

from __future__ import annotations

from llmsim.cost.calibration import CalibrationProfile, get_profile, profile_names
from llmsim.cost.cost_model import CostModel
from llmsim.cost.hardware import Hardware, get_hardware, hardware_ids, with_interconnect
from llmsim.cost.model_spec import ModelSpec, load_model_spec, resolve_model_name, shipped_model_names
from llmsim.cost.precision import DTYPES, Precision, precision_from_dtype

__all__ = [
    "DTYPES",
    "CalibrationProfile",
    "CostModel",
    "Hardware",
    "ModelSpec",
    "Precision",
    "get_hardware",
    "get_profile",
    "hardware_ids",
    "load_model_spec",
    "precision_from_dtype",
    "profile_names",
    "resolve_model_name",
    "shipped_model_names",
]
