"""Write llmsim/validation/data/sharegpt_200.csv: 200 ShareGPT (prompt, output) lengths as vLLM's benchmarks use them.

    python scripts/make_sharegpt_sample.py [--source ../shared/data/traces/sharegpt_8k_lengths.csv]

The source (microsoft/sarathi-serve `data/processed_traces/`, Apache-2.0) holds whole
conversations; vLLM's ShareGPT sampler keeps only the first human turn and the first answer
and prunes pairs with a prompt or output under 4 tokens, a prompt over 1024 or a total over
2048. This keeps the pairs that pass the same filter, draws 200 of them without replacement
(numpy seed 0), and scales prompts and outputs separately so that their means match the
~215 prompt / ~198 output tokens that vLLM's benchmark logs report for its ShareGPT-V3 sample.
Every length stays at least 4 tokens. Deterministic: rerunning writes the same file.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO / ".." / "shared" / "data" / "traces" / "sharegpt_8k_lengths.csv"
DEFAULT_OUT = REPO / "llmsim" / "validation" / "data" / "sharegpt_200.csv"
COUNT, SEED = 200, 0
TARGET_PROMPT_MEAN, TARGET_OUTPUT_MEAN = 215.0, 198.0
MIN_TOKENS, MAX_PROMPT, MAX_TOTAL = 4, 1024, 2048


def sample(prompts: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The filtered, seeded, rescaled (prompt, output) lengths."""
    keep = (prompts >= MIN_TOKENS) & (outputs >= MIN_TOKENS) & (prompts <= MAX_PROMPT) & (prompts + outputs <= MAX_TOTAL)
    p, o = prompts[keep], outputs[keep]
    pick = np.random.default_rng(SEED).choice(len(p), size=COUNT, replace=False)
    p, o = p[pick].astype(float), o[pick].astype(float)
    p_out = np.maximum(np.rint(p * TARGET_PROMPT_MEAN / p.mean()), MIN_TOKENS).astype(int)
    o_out = np.maximum(np.rint(o * TARGET_OUTPUT_MEAN / o.mean()), MIN_TOKENS).astype(int)
    return p_out, o_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with open(args.source, newline="") as fh:
        rows = list(csv.DictReader(fh))
    prompts = np.array([int(r["num_prefill_tokens"]) for r in rows])
    outputs = np.array([int(r["num_decode_tokens"]) for r in rows])
    p, o = sample(prompts, outputs)
    with open(args.out, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["input_tokens", "output_tokens"])
        writer.writerows(zip(p.tolist(), o.tolist()))
    print(f"wrote {args.out}: {len(p)} pairs, mean prompt {p.mean():.1f}, mean output {o.mean():.1f}")


if __name__ == "__main__":
    main()
