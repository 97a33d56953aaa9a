"""Write llmsim/validation/data/sharegpt_200_<tokenizer>.csv: 200 ShareGPT (prompt, output) lengths as vLLM's benchmarks use them.

    python scripts/make_sharegpt_sample.py

The sources (scripts/data/sharegpt_v3_first_turn_<tokenizer>.csv, see the README there) are the
first-turn pairs vLLM's ShareGPT sampler keeps, tokenised with Llama-3's 128k vocabulary and
with Llama-2's 32k one. A benchmark's 200 prompts are one random draw; what a throughput run
measures depends mostly on its longest outputs (the batch drains down to them), and a single
seeded draw's longest output varies by +-30 %. So the 200 pairs are a stratified draw: sorted
by output length, the pair at each of 200 evenly spaced quantiles (the (i + 0.5) / 200-th), so
the sample's longest output is the ~99.75th percentile, about what 200 random draws reach
typically. Then shuffled (numpy seed 0) so that arrival order does not follow length.
Deterministic: rerunning writes the same files.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "scripts" / "data"
OUT = REPO / "llmsim" / "validation" / "data"
TOKENIZERS = ("llama3", "llama2")
COUNT, SEED = 200, 0


def stratified(pairs: np.ndarray, count: int = COUNT) -> np.ndarray:
    """`count` rows of (prompt, output) pairs at evenly spaced output quantiles, shuffled."""
    order = np.argsort(pairs[:, 1], kind="stable")
    pick = pairs[order[((np.arange(count) + 0.5) * len(pairs) / count).astype(int)]]
    np.random.default_rng(SEED).shuffle(pick)
    return pick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, default=SOURCES)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for tok in TOKENIZERS:
        with open(args.sources / f"sharegpt_v3_first_turn_{tok}.csv", newline="") as fh:
            pairs = np.array([(int(r["input_tokens"]), int(r["output_tokens"])) for r in csv.DictReader(fh)])
        pick = stratified(pairs)
        out = args.out / f"sharegpt_200_{tok}.csv"
        with open(out, "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["input_tokens", "output_tokens"])
            writer.writerows(pick.tolist())
        print(f"wrote {out}: {len(pick)} pairs, mean prompt {pick[:, 0].mean():.1f}, "
              f"mean output {pick[:, 1].mean():.1f}, longest output {pick[:, 1].max()}")


if __name__ == "__main__":
    main()
