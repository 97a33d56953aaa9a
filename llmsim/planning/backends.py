"""Where sweep points run: in this process, a local process pool, or Ray tasks (optional extra)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from llmsim.errors import UsageError

BACKENDS = ("process", "ray")
RAY_INSTALL = "pip install 'llmsim[ray]' (in a checkout: pip install -e '.[ray]')"

Task = Callable[[Any], Any]


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run_all(task: Task, payloads: Sequence[Any], *, backend: str = "process", workers: int | None = None,
            address: str | None = None) -> Iterator[tuple[int, Any]]:
    """Run `task` on every payload; yield (position, result) as each finishes (any order)."""
    if backend == "ray":
        yield from _ray(task, payloads, workers, address)
    elif backend == "process":
        yield from _processes(task, payloads, workers or default_workers())
    else:
        raise UsageError(f"unknown backend {backend!r}", field="--backend", expected=" or ".join(BACKENDS))


def _processes(task: Task, payloads: Sequence[Any], workers: int) -> Iterator[tuple[int, Any]]:
    if workers <= 1 or len(payloads) <= 1:
        for i, payload in enumerate(payloads):
            yield i, task(payload)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(payloads))) as pool:
        futures = {pool.submit(task, p): i for i, p in enumerate(payloads)}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


def import_ray() -> Any:
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise UsageError(f"the ray backend needs Ray, which is not installed: {RAY_INSTALL}",
                         field="--backend") from None
    return ray


def _ray(task: Task, payloads: Sequence[Any], workers: int | None, address: str | None) -> Iterator[tuple[int, Any]]:
    """Each payload a Ray task on the cluster at `address` (a local Ray started here when None)."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False,
                                   "configure_logging": False}
        if address is None and workers:
            options["num_cpus"] = workers
        ray.init(**options)
    try:
        remote = ray.remote(num_cpus=1)(task)
        refs = {remote.remote(p): i for i, p in enumerate(payloads)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield refs[ref], ray.get(ref)
    finally:
        if started:
            ray.shutdown()
