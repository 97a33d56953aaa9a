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
# fp8 quantises weights, activations and KV; int8 is W8A8 (SmoothQuant-style) with FP16 KV.
DTYPES: dict[str, Precision] = {
    "fp16": Precision(16, 16, 16),
    "bf16": Precision(16, 16, 16),
    "fp8": Precision(8, 8, 8),
    "int8": Precision(8, 8, 16, int_compute=True),
    "int4": Precision(4, 16, 16),
}


def precision_from_dtype(dtype: str) -> Precision:
    """The Precision for a `--dtype` name; unknown names raise UsageError listing the known ones."""
    try:
        return DTYPES[dtype.lower()]
    except KeyError:
        known = ", ".join(DTYPES)
        raise UsageError(f"unknown dtype {dtype!r}", field="--dtype", expected=known) from None
