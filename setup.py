"""Packaging hook for the optional compiled build: `LLMSIM_COMPILE=1` compiles the hot path with mypyc.

Everything else about the package is in pyproject.toml. Without the variable this builds the
plain-Python package. See docs/performance.md ("Compiled build") for what it gains and how to
check which build is running.
"""

import os
import sys

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


COMPILED_GROUP = "llmsim.hotpath"
METADATA_ONLY = bool({"egg_info", "dist_info"} & set(sys.argv))


def _ext_modules() -> list:
    if os.environ.get("LLMSIM_COMPILE") != "1":
        return []
    if METADATA_ONLY:  # pip reading the package's metadata: no need to translate the modules (minutes)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        raise SystemExit("LLMSIM_COMPILE=1 needs mypy in the build environment: pip install mypy, then "
                         "LLMSIM_COMPILE=1 pip install --no-build-isolation . (or setup.py build_ext --inplace)") from exc
    # One shared library for the group, named inside the llmsim package (llmsim/hotpath__mypyc*.so)
    # rather than at the top of the tree: `pip install` puts it beside the modules that load it and
    # `build_ext --inplace` beside the sources, so the console script finds it from any folder.
    return mypycify(COMPILED_MODULES, opt_level="3", group_name=COMPILED_GROUP)


# Under pip's build isolation, `LLMSIM_COMPILE=1 pip install .` asks for the build requirements first
# (setuptools runs this file with `egg_info`): mypy is one of them when compiling and not yet there.
SETUP_REQUIRES = ["mypy>=1.8"] if os.environ.get("LLMSIM_COMPILE") == "1" and "egg_info" in sys.argv else []

setup(ext_modules=_ext_modules(), setup_requires=SETUP_REQUIRES)
