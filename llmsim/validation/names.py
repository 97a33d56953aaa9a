"""Names in measured data mapped to llmsim's: models to shipped configs, GPU names to hardware ids.

Models (first match wins; the row's name lower-cased, any `org/` prefix kept):
  CodeLlama-34b* -> codellama-34b-instruct-hf, Llama-2-7b* -> llama-2-7b-hf,
  Meta-Llama-3-70B* -> llama-3-70b-instruct, Llama-3.1-8B* -> llama-3.1-8b-instruct,
  Mixtral-8x7B* -> mixtral-8x7b-v0.1, and the other shipped configs by their family name
  (Llama-2-13b, Mistral-7B, Qwen2.5-7B, Qwen3-30B-A3B, Yi-34B; base, chat and instruct variants share
  the shapes). Any other name llmsim itself resolves (a shipped name or a Hugging Face id it knows)
  is used as it is.
GPUs: an H100 named without "PCIe" (SXM, or a CI node that does not say) -> nvidia_H100_SXM;
  A100 80 GB (SXM4 or "SXM assumed") -> nvidia_A100_80G_SXM, with "PCIe" -> nvidia_A100_80G_PCIe;
  A100 40 GB (Lambda's are SXM4) -> nvidia_A100_SXM, with "PCIe" -> nvidia_A100; H200, B200, A800,
  L40S, L40, L4, A10 (and AWS's A10G), A6000, A40, V100 and MI300X by name; a llmsim hardware id is
  used as it is.
Model class (for the MAPE table): llmsim.cost.fidelity.model_class of the config (moe, or dense
by parameter count), the same classes a run's `fidelity` section is looked up by.
"""

from __future__ import annotations

import re

from llmsim.cost import fidelity, hardware_ids, load_model_spec, resolve_model_name
from llmsim.errors import UnknownModelError
from llmsim.validation.points import ServingPoint

_MODELS: tuple[tuple[str, str], ...] = (
    (r"codellama-34b", "codellama-34b-instruct-hf"),
    (r"llama-2-7b", "llama-2-7b-hf"),
    (r"llama-2-70b", "llama-2-70b-hf"),
    (r"llama-3\.1-8b", "llama-3.1-8b-instruct"),  # before llama-3-8b: "Llama-3.1-8B (Meta-Llama-3-8B arch)"
    (r"llama-3\.1-70b", "llama-3.1-70b-instruct"),
    (r"llama-3-70b", "llama-3-70b-instruct"),
    (r"llama-3-8b", "llama-3-8b-instruct"),
    (r"mixtral-8x7b", "mixtral-8x7b-v0.1"),
    (r"llama-2-13b", "llama-2-13b-hf"),
    (r"mistral-7b", "mistral-7b-v0.1"),  # v0.2/v0.3 and Instruct: the same shapes (v0.3: +768 vocabulary rows)
    (r"qwen2\.5-7b", "qwen2.5-7b-instruct"),
    (r"qwen3-30b-a3b", "qwen3-30b-a3b"),
    (r"yi-34b", "yi-34b"),
)
_GPUS: tuple[tuple[str, str], ...] = (
    (r"h100.*pcie", "nvidia_H100_PCIe"),
    (r"h100", "nvidia_H100_SXM"),
    (r"h200", "nvidia_H200"),
    (r"b200", "nvidia_B200"),
    (r"a100.*80.*pcie", "nvidia_A100_80G_PCIe"),
    (r"a100.*80", "nvidia_A100_80G_SXM"),
    (r"a100.*40.*pcie", "nvidia_A100"),
    (r"a100.*40", "nvidia_A100_SXM"),
    (r"a800", "nvidia_A800_80G_SXM"),
    (r"l40s", "nvidia_L40S"),
    (r"(?<![a-z0-9])l40(?![0-9a-z])", "nvidia_L40"),
    (r"(?<![a-z0-9])a10g?(?![0-9a-z])", "nvidia_A10"),  # AWS's A10G: the same GA102 die, 24 GB at 600 GB/s
    (r"(?<![a-z0-9])l4(?![0-9])", "nvidia_L4"),
    (r"a6000", "nvidia_A6000"),
    (r"(?<![a-z0-9])a40(?![0-9])", "nvidia_A40S"),
    (r"v100", "nvidia_V100"),
    (r"mi300x", "amd_MI300X"),
)


def model_name(point: ServingPoint) -> str:
    """The llmsim model for a row's `model`; unknown is a PointsError naming the row."""
    text = point.model.lower()
    for pattern, name in _MODELS:
        if re.search(pattern, text):
            return name
    try:
        load_model_spec(point.model)
        return resolve_model_name(point.model)
    except UnknownModelError:
        raise point.error("model", f"unknown model {point.model!r}",
                          "a model llmsim ships (llmsim/cost/model_configs) or one of the names in "
                          "llmsim/validation/names.py") from None


def hardware_id(point: ServingPoint) -> str:
    """The llmsim GPU id for a row's `gpu`; unknown is a PointsError naming the row."""
    if point.gpu in hardware_ids(None):
        return point.gpu
    text = point.gpu.lower()
    for pattern, hw in _GPUS:
        if re.search(pattern, text):
            return hw
    raise point.error("gpu", f"unknown GPU {point.gpu!r}",
                      "a GPU name llmsim knows (H100, H200, B200, A100, A800, L40S, L40, L4, A10, A10G, A6000, "
                      "A40, V100, MI300X) or a llmsim hardware id (llmsim hardware)")


def model_class(model: str) -> str:
    """The size class the fidelity lookup groups by (llmsim.cost.fidelity owns the rule)."""
    return fidelity.model_class(load_model_spec(model))
