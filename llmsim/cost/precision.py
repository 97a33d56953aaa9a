"""Numeric precision of weights, activations and KV cache, and which tensor-core peak applies."""

from __future__ import annotations

import msgspec

from llmsim.errors import UsageError


class Precision(msgspec.Struct, frozen=True):
    """Bit widths of weights, activations and KV cache; `int_compute` selects INT8 over FP8 math."""

    weight_bits: int = 16
    activation_bits: int = 16
    kv_bits: int = 16
    int_compute: bool = False

    @property
    def weight_bytes(self) -> float:
        """Bytes per weight element (0.5 for int4)."""
        return self.weight_bits / 8.0

    @property
    def activation_bytes(self) -> float:
        """Bytes per activation element."""
        return self.activation_bits / 8.0

    @property
    def kv_bytes(self) -> float:
        """Bytes per KV-cache element."""
        return self.kv_bits / 8.0


# Weight-only quantisation (int4) keeps FP16 activations and math (AWQ/GPTQ-style kernels);
# fp8 is W8A8 FP8 (vLLM's --quantization fp8), int8 W8A8 (SmoothQuant-style). The KV cache stays
# 16-bit in all of them, as vLLM's --kv-cache-dtype auto keeps it (the model's dtype);
# KV_CACHE_DTYPES change it.
DTYPES: dict[str, Precision] = {
    "fp16": Precision(16, 16, 16),
    "bf16": Precision(16, 16, 16),
    "fp8": Precision(8, 8, 16),
    "int8": Precision(8, 8, 16, int_compute=True),
    "int4": Precision(4, 16, 16),
}
# vLLM's --kv-cache-dtype: bits of a cached key or value (auto: keep the deployment's).
KV_CACHE_DTYPES: dict[str, int | None] = {"auto": None, "fp8": 8, "fp16": 16, "bf16": 16}


def precision_from_dtype(dtype: str, kv_cache_dtype: str | None = None) -> Precision:
    """The Precision for a `--dtype` name (and a `--kv-cache-dtype`); unknown names raise UsageError
    listing the known ones."""
    try:
        precision = DTYPES[dtype.lower()]
    except KeyError:
        known = ", ".join(DTYPES)
        raise UsageError(f"unknown dtype {dtype!r}", field="--dtype", expected=known) from None
    return with_kv_cache_dtype(precision, kv_cache_dtype)


def with_kv_cache_dtype(precision: Precision, kv_cache_dtype: str | None) -> Precision:
    """`precision` with its KV cache in `kv_cache_dtype` (None or auto: unchanged)."""
    if kv_cache_dtype is None:
        return precision
    try:
        bits = KV_CACHE_DTYPES[kv_cache_dtype.lower()]
    except KeyError:
        raise UsageError(f"unknown KV cache dtype {kv_cache_dtype!r}", field="--kv-cache-dtype",
                         expected=", ".join(KV_CACHE_DTYPES)) from None
    return precision if bits is None else msgspec.structs.replace(precision, kv_bits=bits)


def precision_text(p: Precision) -> str:
    """A deployment's precision in a few words: 16-bit (fp16 and bf16 cost the same) or its --dtype name,
    and the KV cache where it is not 16-bit."""
    name = next((n for n, d in DTYPES.items() if n not in ("fp16", "bf16") and
                 (d.weight_bits, d.activation_bits, d.int_compute) == (p.weight_bits, p.activation_bits, p.int_compute)),
                "16-bit" if (p.weight_bits, p.activation_bits) == (16, 16) else f"w{p.weight_bits}a{p.activation_bits}")
    return name if p.kv_bits == 16 else f"{name}, {'fp8' if p.kv_bits == 8 else f'{p.kv_bits}-bit'} KV"
