"""stats.json's `disaggregation` section: the prefill and decode pools, their ratio, and the KV transfers."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmsim.kernel.clock import NS_PER_S
from protocols.gpu import GpuStats


def _pool(gpus: list[GpuStats], span_ns: int) -> dict[str, Any]:
    """Replicas, GPUs and mean busy fraction of one pool (replicas alive at the end of the run)."""
    busy = [g.busy_ns / span_ns for g in gpus] if span_ns else []
    return {"replicas": len(gpus), "gpus": sum(g.tp for g in gpus),
            "busy_fraction": float(np.mean(busy)) if busy else 0.0,
            "kv_peak_use": max((g.kv_peak_blocks / g.kv_total_blocks for g in gpus if g.kv_total_blocks), default=0.0)}


def disaggregation_section(gpus: list[GpuStats], transfer_ns: np.ndarray, wait_ns: np.ndarray, kv_bytes: int,
                           retransfers: int, span_ns: int, summarise: Any) -> dict[str, Any] | None:
    """The section, or None for a co-located run (no prefill or decode replica): stats.json stays as it was."""
    pools = {role: [g for g in gpus if g.role == role] for role in ("prefill", "decode", "both")}
    if not pools["prefill"] and not pools["decode"] and not len(transfer_ns):
        return None
    p, d = _pool(pools["prefill"], span_ns), _pool(pools["decode"], span_ns)
    return {
        "ratio": f"{p['replicas']}:{d['replicas']}",
        "pools": {"prefill": p, "decode": d, "both": _pool(pools["both"], span_ns)},
        "transfers": {"count": int(len(transfer_ns)), "kv_bytes": kv_bytes, "retransfers": retransfers,
                      "transfer_s": summarise(transfer_ns.astype(np.float64) / NS_PER_S),
                      # first token to transfer start: waiting for a decode replica with free KV blocks
                      "wait_for_decode_s": summarise(wait_ns.astype(np.float64) / NS_PER_S)},
    }


def disaggregation_line(section: dict[str, Any] | None) -> list[str]:
    """The summary line: P:D ratio, each pool's utilisation, transfer time percentiles."""
    if not section:
        return []
    pools, t = section["pools"], section["transfers"]
    ts = t["transfer_s"]
    times = f", p50 {ts['p50'] * 1e3:.2f} ms p99 {ts['p99'] * 1e3:.2f} ms" if ts.get("count") else ""
    wait = t.get("wait_for_decode_s", {})
    if wait.get("count") and wait["p99"]:
        times += f"; waited for decode KV p50 {wait['p50'] * 1e3:.1f} ms p99 {wait['p99'] * 1e3:.1f} ms"
    return [f"disaggregation: P:D {section['ratio']} replicas ({pools['prefill']['gpus']}:{pools['decode']['gpus']} GPUs); "
            f"busy prefill {pools['prefill']['busy_fraction']:.0%}, decode {pools['decode']['busy_fraction']:.0%}; "
            f"KV transfers {t['count']}{times}" + (f", {t['retransfers']} re-sent" if t["retransfers"] else "")]
