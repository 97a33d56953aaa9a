"""Model architecture specs (ModelSpec) built from Hugging Face config.json files."""

from __future__ import annotations

import functools
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from llmsim.cost import spec_cache
from llmsim.errors import ConfigError, InputFileError, UnknownModelError
from llmsim.inputs import read_document


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The architecture numbers the cost model needs; all layers are assumed identical."""

    name: str
    model_type: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    gated_mlp: bool = True
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 4096  # the context the engine allows by default (vLLM's max_model_len)

    @property
    def is_moe(self) -> bool:
        """True for mixture-of-experts models."""
        return self.num_experts > 0

    @property
    def q_size(self) -> int:
        """Width of the query projection output."""
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        """Width of one of the key or value projection outputs."""
        return self.num_kv_heads * self.head_dim

    @property
    def attention_params(self) -> int:
        """Q, K, V and O projection weights of one layer."""
        return self.hidden_size * (2 * self.q_size + 2 * self.kv_size)

    @property
    def mlp_matrices(self) -> int:
        """Matrices per MLP (3 for gated SwiGLU: gate, up, down; 2 otherwise)."""
        return 3 if self.gated_mlp else 2

    @property
    def expert_params(self) -> int:
        """Weights of one MoE expert (or of the dense MLP for dense models)."""
        width = self.moe_intermediate_size if self.is_moe else self.intermediate_size
        return self.mlp_matrices * self.hidden_size * width

    @property
    def shared_expert_params(self) -> int:
        """Weights of the always-active shared expert (0 when there is none)."""
        return self.mlp_matrices * self.hidden_size * self.shared_expert_intermediate_size

    @property
    def router_params(self) -> int:
        """Weights of the MoE router (gate) of one layer."""
        return self.hidden_size * self.num_experts

    @property
    def layer_params(self) -> int:
        """Weights of one transformer layer (norms included)."""
        experts = self.num_experts if self.is_moe else 1
        return (
            self.attention_params
            + experts * self.expert_params
            + self.shared_expert_params
            + self.router_params
            + 2 * self.hidden_size
        )

    @property
    def embedding_params(self) -> int:
        """Input embedding plus LM head (counted once when tied)."""
        tables = 1 if self.tie_word_embeddings else 2
        return tables * self.vocab_size * self.hidden_size

    @property
    def param_count(self) -> int:
        """Total parameters (all experts counted)."""
        return self.num_layers * self.layer_params + self.embedding_params + self.hidden_size

    @property
    def active_param_count(self) -> int:
        """Parameters used per token (only top-k experts for MoE)."""
        if not self.is_moe:
            return self.param_count
        unused = (self.num_experts - self.experts_per_token) * self.expert_params
        return self.param_count - self.num_layers * unused


# Hugging Face ids and short names that map to a shipped folder whose name they don't reduce to.
_ALIASES: dict[str, str] = {
    "meta-llama-3-8b-instruct": "llama-3-8b-instruct",
    "meta-llama-3-70b-instruct": "llama-3-70b-instruct",
    "meta-llama-3.1-8b-instruct": "llama-3.1-8b-instruct",
    "meta-llama-3.1-70b-instruct": "llama-3.1-70b-instruct",
    "llama-3.3-70b-instruct": "llama-3.1-70b-instruct",
}


# Architectures whose MLP is up -> activation -> down (two matrices) instead of a gated SwiGLU/GeGLU.
_NON_GATED_TYPES = frozenset({"gpt2", "gpt_bigcode", "gptj", "gpt_neox", "opt", "bloom", "falcon", "phi", "starcoder2"})


def _shipped_root() -> Path:
    return Path(str(resources.files("llmsim.cost").joinpath("model_configs")))


@functools.lru_cache(maxsize=1)
def shipped_model_names() -> tuple[str, ...]:
    """Names of the configs shipped under llmsim/cost/model_configs/."""
    root = _shipped_root()
    return tuple(sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()))


def _candidates(key: str) -> list[str]:
    """Spellings of a lowercased id to try against the shipped names, best first."""
    base = key.rsplit("/", 1)[-1]
    out = [base, _ALIASES.get(base, base)]
    stripped = re.sub(r"^meta-", "", base)
    out += [stripped, stripped + "-hf", re.sub(r"-chat(-hf)?$", r"\1", stripped)]
    out += [re.sub(r"-chat(-hf)?$", "-hf", stripped), re.sub(r"-hf$", "", stripped)]
    return out


def _shipped_name(name: str) -> str | None:
    known = set(shipped_model_names())
    for cand in _candidates(name.strip().lower()):
        cand = _ALIASES.get(cand, cand)
        if cand in known:
            return cand
    return None


def is_shipped_name(name: str) -> bool:
    """Whether `name` is a shipped config (by name, Hugging Face id or alias), not a path."""
    return _shipped_name(name) is not None


# Canonical name -> config file of each local model loaded by path, so that the canonical name
# (what deployments, replicas and statistics carry) finds the same file from any working folder.
_LOCAL_CONFIGS: dict[str, Path] = {}


def _local_path(name_or_path: str) -> Path | None:
    known = _LOCAL_CONFIGS.get(name_or_path)
    if known is not None:
        return known
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    if path.is_dir() and (path / "config.json").is_file():
        return path / "config.json"
    return None


def _unknown(name_or_path: str) -> UnknownModelError:
    known = ", ".join(shipped_model_names())
    return UnknownModelError(
        f"unknown model {name_or_path!r}",
        expected=f"a config.json folder or file, or one of {known}",
    )


@functools.lru_cache(maxsize=256)
def resolve_model_name(name_or_path: str) -> str:
    """Canonical deployment key: a shipped name, or the folder name of a local config."""
    shipped = _shipped_name(name_or_path)
    if shipped is not None:
        return shipped
    local = _local_path(name_or_path)
    if local is not None:
        if name_or_path in _LOCAL_CONFIGS:
            return name_or_path
        folder = local.parent.name if local.name == "config.json" else local.stem
        return folder or local.stem
    raise _unknown(name_or_path)


def _config_file(name_or_path: str) -> Path:
    shipped = _shipped_name(name_or_path)
    if shipped is not None:
        return _shipped_root() / shipped / "config.json"
    local = _local_path(name_or_path)
    if local is None:
        raise _unknown(name_or_path)
    return local


def _read_bytes(path: Path) -> bytes:
    try:
        return read_document(str(path), MAX_CONFIG_BYTES)
    except InputFileError as err:
        raise ConfigError(f"cannot read model config: {err.message}", file=str(path)) from None


MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _read_config(path: Path, data: bytes) -> dict[str, Any]:
    """Config values through transformers.AutoConfig; raw JSON if transformers lacks the type."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except ValueError as err:
        raise ConfigError(f"cannot read model config: {err}", file=str(path)) from None
    except RecursionError:
        raise ConfigError("model config nested too deeply", file=str(path), expected="a config.json object") from None
    if not isinstance(raw, dict):
        raise ConfigError("model config is not a JSON object", file=str(path))
    try:
        # llmsim needs only configuration classes: silence transformers' advice that PyTorch
        # is missing, which would otherwise land on every run's stderr.
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        from transformers import AutoConfig  # lazy: importing transformers costs ~1 s

        config = AutoConfig.from_pretrained(str(path.parent) if path.name == "config.json" else str(path))
        values = dict(raw)
        values.update({k: v for k, v in config.to_dict().items() if v is not None})
        return values
    except Exception:  # transformers too old for this model_type, or not installed
        return raw


def _first(values: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if values.get(key) is not None:
            return values[key]
    return default


def spec_from_config(name: str, values: dict[str, Any], where: str = "config.json") -> ModelSpec:
    """Build a ModelSpec from config.json values (dense or MoE)."""
    try:
        hidden = int(values["hidden_size"])
        heads = int(values["num_attention_heads"])
        layers = int(values["num_hidden_layers"])
        vocab = int(values["vocab_size"])
        inter = int(_first(values, "intermediate_size", "ffn_dim", default=4 * hidden))
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise ConfigError(f"missing or invalid field {err}", file=where) from None
    _check_positive(values, where, hidden_size=hidden, num_attention_heads=heads, num_hidden_layers=layers,
                    vocab_size=vocab, intermediate_size=inter)
    try:
        spec = _spec(name, values, hidden, heads, layers, vocab, inter)
    except (TypeError, ValueError, OverflowError) as err:
        raise ConfigError(f"invalid field: {err}", file=where) from None
    _check_positive(values, where, num_key_value_heads=spec.num_kv_heads, head_dim=spec.head_dim)
    if spec.num_experts < 0 or spec.num_experts > MAX_DIMENSION:
        raise ConfigError(f"{spec.num_experts} experts", file=where, field="num_experts",
                          expected=f"an integer from 0 to {MAX_DIMENSION:,}")
    if spec.is_moe and not 1 <= spec.experts_per_token <= spec.num_experts:
        raise ConfigError(f"{spec.experts_per_token} experts per token of {spec.num_experts}", file=where,
                          field="num_experts_per_tok", expected=f"an integer from 1 to {spec.num_experts}")
    if spec.is_moe and spec.moe_intermediate_size <= 0 or spec.shared_expert_intermediate_size < 0:
        raise ConfigError("expert width is not positive", file=where, field="moe_intermediate_size",
                          expected="an integer > 0")
    return spec


MAX_DIMENSION = 10_000_000  # larger than any real model's width, layer count or vocabulary


def _check_positive(values: dict[str, Any], where: str, **fields: int) -> None:
    """Every architecture figure a whole number from 1 to MAX_DIMENSION (no division by zero later)."""
    for field, value in fields.items():
        if not 1 <= value <= MAX_DIMENSION:
            shown = f"{value:,}" if abs(value) < 10**15 else f"{float(value):.3g}"
            raise ConfigError(f"{field} is {shown}", file=where, field=field,
                              expected=f"an integer from 1 to {MAX_DIMENSION:,}")


def _spec(name: str, values: dict[str, Any], hidden: int, heads: int, layers: int, vocab: int,
          inter: int) -> ModelSpec:
    experts = int(_first(values, "num_local_experts", "num_experts", "n_routed_experts", default=0) or 0)
    return ModelSpec(
        name=name,
        model_type=str(values.get("model_type", "unknown")),
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=int(_first(values, "num_key_value_heads", default=heads)),
        head_dim=int(_first(values, "head_dim", default=hidden // heads)),
        intermediate_size=inter,
        vocab_size=vocab,
        num_experts=experts,
        experts_per_token=int(_first(values, "num_experts_per_tok", default=0)) if experts else 0,
        moe_intermediate_size=int(_first(values, "moe_intermediate_size", default=inter)) if experts else 0,
        shared_expert_intermediate_size=int(_first(values, "shared_expert_intermediate_size", default=0)),
        gated_mlp=str(values.get("model_type", "")) not in _NON_GATED_TYPES,
        tie_word_embeddings=bool(values.get("tie_word_embeddings", False)),
        max_position_embeddings=int(_first(values, "max_position_embeddings", "n_positions", "max_seq_len",
                                           default=4096) or 4096),
    )


@functools.lru_cache(maxsize=64)
def load_model_spec(name_or_path: str) -> ModelSpec:
    """The ModelSpec for a shipped name, a Hugging Face id alias, or a local config folder/file."""
    path = _config_file(name_or_path)
    name = resolve_model_name(name_or_path)
    if _shipped_name(name_or_path) is None:
        _LOCAL_CONFIGS.setdefault(name, path.resolve())
    data = _read_bytes(path)
    key = spec_cache.cache_key(name, data)
    spec = spec_cache.load(key)
    if spec is None:
        spec = spec_from_config(name, _read_config(path, data), str(path))
        spec_cache.store(key, spec)
    return spec
