"""Packaging hook for the optional compiled build: `LLMSIM_COMPILE=1` compiles the hot path with mypyc.

Everything else about the package is in pyproject.toml. Without the variable this builds the
plain-Python package. See docs/performance.md ("Compiled build") for what it gains and how to
check which build is running.
"""

import os

from setuptools import setup

# The event loop and everything it calls once per message, per iteration or per request.
COMPILED_MODULES = [
    "llmsim/kernel/actor.py",
    "llmsim/kernel/clock.py",
    "llmsim/kernel/engine.py",
    "llmsim/kernel/mailbox.py",
    "llmsim/batching/engine.py",
    "llmsim/batching/fastforward.py",
    "llmsim/batching/queue.py",
    "llmsim/batching/scheduler.py",
    "llmsim/batching/sequence.py",
    "llmsim/batching/step.py",
    "llmsim/cost/cost_model.py",
    "llmsim/cost/operators.py",
    "llmsim/memory/kv_cache.py",
    "actors/cost_service.py",
    "actors/global_engine.py",
    "actors/gpu.py",
    "actors/gpu_records.py",
    "actors/node.py",
    "actors/router.py",
    "llmsim/output/chrome_trace.py",
    "llmsim/output/event_log.py",
    "llmsim/output/histogram.py",
    "llmsim/output/requests_log.py",
    "llmsim/output/stats.py",
    "llmsim/workload/arrivals.py",
    "llmsim/workload/fields.py",
    "llmsim/workload/formats.py",
    "llmsim/workload/jsonl_readers.py",
    "llmsim/workload/source.py",
]


def _ext_modules() -> list:
    if os.environ.get("LLMSIM_COMPILE") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        raise SystemExit("LLMSIM_COMPILE=1 needs mypy in the build environment: "
                         "pip install mypy, then pip install --no-build-isolation ...") from exc
    return mypycify(COMPILED_MODULES, opt_level="3")


setup(ext_modules=_ext_modules())
