"""Run the replay fuzz tests with a larger budget than the default test run.

    .venv/bin/python scripts/fuzz.py                    # 2000 examples per fuzz test
    .venv/bin/python scripts/fuzz.py --examples 10000   # more
    .venv/bin/python scripts/fuzz.py --seed 7           # a reproducible run

Each example writes a generated trace (and env.json / change file) and runs `llmsim replay`
in-process; it must end in a one-line error with exit status 2 or in a complete run whose
invariants hold. The other commands (workload stats, convert, generate, cost, roofline with
generated hardware files, events, report) are fuzzed the same way, and generated bad replay
invocations must leave the output folder byte-identical. Failures are shrunk by hypothesis and printed with the inputs that caused them.
See docs/errors.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ_TESTS = [ROOT / "tests" / "reliability" / name
              for name in ("test_fuzz.py", "test_fuzz_commands.py", "test_refused_runs.py")]


def main() -> int:
    """Parse the budget, then hand over to pytest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per fuzz test (default 2000)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one example may run (default 60)")
    parser.add_argument("--seed", type=int, help="hypothesis seed, for a reproducible run")
    args, rest = parser.parse_known_args()
    os.environ["LLMSIM_FUZZ_EXAMPLES"] = str(args.examples)
    os.environ["LLMSIM_FUZZ_TIMEOUT_S"] = str(args.timeout)
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    import pytest

    pytest_args = [*map(str, FUZZ_TESTS), "-q", "--hypothesis-show-statistics", "-p", "no:cacheprovider", *rest]
    if args.seed is not None:
        pytest_args.append(f"--hypothesis-seed={args.seed}")
    os.chdir(ROOT)
    return int(pytest.main(pytest_args))


if __name__ == "__main__":
    sys.exit(main())
