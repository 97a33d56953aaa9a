"""`llmsim hardware`: the GPU ids llmsim knows, with memory, bandwidth, FLOP/s, interconnect and source."""

from __future__ import annotations

import argparse
from typing import Any

import orjson


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `hardware` subcommand."""
    p = sub.add_parser("hardware", help="list the GPU ids (memory, bandwidth, FLOP/s, interconnect, source)",
                       description="List the GPU types llmsim knows: the ids env.json, --hardware and change "
                                   "files use, and the figures the cost model takes from the datasheets.")
    p.add_argument("--hardware-file", help="JSON file adding GPU types to the table (shown with them)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(handler=run)


def _same_card(table: dict[str, Any]) -> dict[str, list[str]]:
    """GPU id -> the other ids with identical figures (one card known under several ids)."""
    by_figures: dict[bytes, list[str]] = {}
    for gpu_id, hw in table.items():
        figures = {k: v for k, v in hw.items() if k not in ("id", "source")}
        by_figures.setdefault(orjson.dumps(figures, option=orjson.OPT_SORT_KEYS), []).append(gpu_id)
    return {i: [j for j in ids if j != i] for ids in by_figures.values() for i in ids}


def rows(hardware_file: str | None) -> list[dict[str, Any]]:
    """One entry per GPU id, sorted by id."""
    import msgspec

    from llmsim.cost.hardware import hardware_table

    table = {k: msgspec.to_builtins(v) for k, v in sorted(hardware_table(hardware_file).items())}
    same = _same_card(table)
    return [{**hw, "same_card_as": same[gpu_id]} for gpu_id, hw in table.items()]


def _line(r: dict[str, Any]) -> str:
    link = f"{r['interconnect']} {r['interconnect_bandwidth_bytes_per_s'] / 1e9:.0f} GB/s"
    fp8 = f"{r['peak_fp8_flops'] / 1e12:7.1f}" if r["peak_fp8_flops"] else f"{'-':>7}"
    same = f"same card as {', '.join(r['same_card_as'])}" if r["same_card_as"] else ""
    return (f"{r['id']:22} {r['name']:38} {r['memory_bytes'] / 2**30:5.0f} GiB {r['hbm_bandwidth_bytes_per_s'] / 1e12:5.2f} TB/s "
            f"{r['peak_fp16_flops'] / 1e12:7.1f} {fp8}  {link:16} {same}").rstrip()


def run(args: argparse.Namespace) -> int:
    """Print the table (text or JSON)."""
    table = rows(args.hardware_file)
    if args.json:
        print(orjson.dumps(table, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"{'id':22} {'name':38} {'memory':>9} {'HBM bw':>10} {'TFLOP/s':>7} {'TFLOP/s':>7}  interconnect")
    print(f"{'':22} {'':38} {'':>9} {'':>10} {'fp16':>7} {'fp8':>7}")
    for r in table:
        print(_line(r))
    print("\nsources:")
    for r in table:
        print(f"  {r['id']}: {r['source'] or 'no source given'}")
    print("\nFLOP/s are dense tensor-core peaks; bandwidths are one direction. "
          "Add GPUs with --hardware-file (docs/cluster.md).")
    return 0
