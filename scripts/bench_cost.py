"""Benchmark the cost model's hot paths: memoised decode-step queries, fast-forward runs, mixed iterations."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from llmsim.cost import CostModel, get_hardware, load_model_spec


def _rate(fn, n: int) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn(n)
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="llama-3.1-8b-instruct")
    parser.add_argument("--hardware", default="nvidia_A100")
    parser.add_argument("--queries", type=int, default=500_000)
    args = parser.parse_args(argv)
    cm = CostModel(load_model_spec(args.model), get_hardware(args.hardware))
    rng = np.random.default_rng(0)
    batches = [list(map(int, rng.integers(1, 4000, size=int(b)))) for b in rng.integers(1, 64, size=256)]
    for ctx in batches:  # warm the memo, as a long simulation does
        cm.iteration_ns([], [], ctx)

    def memo_decode(n: int) -> None:
        step = cm.decode_ns
        keys = [(len(c), sum(c)) for c in batches]
        for i in range(n):
            b, s = keys[i & 255]
            step(b, s)

    def memo_iteration(n: int) -> None:
        it = cm.iteration_ns
        for i in range(n):
            it((), (), batches[i & 255])

    def cold_decode(n: int) -> None:
        for i in range(n):
            cm.decode_ns(1 + i % 64, 10_000_000 + i)

    def runs(n: int) -> None:
        ctx = np.array(batches[0], dtype=np.int64)
        for _ in range(n):
            cm.decode_run_ns(ctx, 256)

    def mixed(n: int) -> None:
        for i in range(n):
            cm.iteration_ns([512 + i % 7], [i % 3000], batches[i & 255])

    print(f"model {args.model} on {args.hardware}, calibration {cm.profile.name}")
    print(f"memoised decode-step queries (decode_ns(batch, ctx_sum)): {_rate(memo_decode, args.queries):12,.0f} /s")
    print(f"memoised iteration_ns([], [], ctx list), mean batch 32:   {_rate(memo_iteration, args.queries // 5):12,.0f} /s")
    print(f"unmemoised decode steps:                                  {_rate(cold_decode, 20_000):12,.0f} /s")
    print(f"decode_run_ns(k=256) fast-forward runs:                   {_rate(runs, 20_000):12,.0f} /s")
    print(f"mixed prefill+decode iterations (mostly unmemoised):      {_rate(mixed, 20_000):12,.0f} /s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
