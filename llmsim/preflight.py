"""Trace checks around a replay: token-count bounds, the --strict pre-pass, UTF-8 error lines.

Token counts that are not positive (reason `non_positive_tokens`) or above
MAX_TOKENS_PER_REQUEST (absurd — no model has such a context; reason `absurd_tokens`) are
skipped here, before the GlobalEngine sees them (counted in `requests.skipped_invalid`). With
--strict both are errors, and the pre-pass streams the whole trace once before the run to refuse unknown models
and models that fit on no GPU of the cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from llmsim.config import EnvChange, Environment, ServingOptions
from llmsim.config.engine_limits import EngineFamily
from llmsim.cost import Precision, get_hardware
from llmsim.errors import InputFileError, LlmsimError, TraceError, UnknownModelError
from llmsim.inputs import bounded_lines, open_input
from llmsim.memory.sizing import gpu_memory_bytes
from llmsim.workload import TraceRequest

MAX_TOKENS_PER_REQUEST = 10_000_000
ABSURD_REASON = "absurd_tokens"
NON_POSITIVE_REASON = "non_positive_tokens"


class ModelTooLargeError(LlmsimError):
    """A model that fits on no GPU type of the cluster at any tensor-parallel degree (--strict)."""


def token_problem(tr: TraceRequest) -> tuple[str, str, str] | None:
    """(field, message, skip reason) for a non-positive or absurd token count, or None when both are fine.

    The one token-count rule: the run skips such lines (TokenFilter), --strict refuses them.
    """
    for field in ("input_tokens", "output_tokens"):
        value = getattr(tr, field)
        if value <= 0:
            return field, f"token count {value} is not positive", NON_POSITIVE_REASON
        if value > MAX_TOKENS_PER_REQUEST:
            return field, f"token count {value} is absurd", ABSURD_REASON
    return None


def token_error(tr: TraceRequest, field: str, message: str) -> TraceError:
    """The --strict error for a bad token count at the request's line."""
    return TraceError(message, line=tr.line, field=field,
                      expected=f"an integer from 1 to {MAX_TOKENS_PER_REQUEST:,} (drop --strict to skip such lines)")


class TokenFilter:
    """Passes (arrival_ns, request) through, skipping (or, strict, refusing) bad token counts."""

    def __init__(self, requests: Iterable[tuple[int, TraceRequest]], *, strict: bool,
                 on_skip: Callable[[TraceRequest, str], None],
                 on_slo: Callable[[TraceRequest], None] | None = None) -> None:
        self._requests = iter(requests)
        self._strict, self._on_skip, self._on_slo = strict, on_skip, on_slo
        self.skipped = 0

    def __iter__(self) -> Iterator[tuple[int, TraceRequest]]:
        return self

    def __next__(self) -> tuple[int, TraceRequest]:
        while True:
            arrival_ns, tr = next(self._requests)
            problem = token_problem(tr)
            if problem is None:
                if (tr.slo_ttft_s is not None or tr.slo_tpot_s is not None) and self._on_slo is not None:
                    self._on_slo(tr)
                return arrival_ns, tr
            field, message, reason = problem
            if self._strict:
                raise token_error(tr, field, message)
            self.skipped += 1
            self._on_skip(tr, reason)


# ---- the --strict pre-pass ---------------------------------------------------------------------
class GpuOffer:
    """One GPU type the cluster can give a replica: memory per GPU and at most how many GPUs."""

    __slots__ = ("gpu_type", "memory_bytes", "count")

    def __init__(self, gpu_type: str, memory_bytes: int, count: int) -> None:
        self.gpu_type, self.memory_bytes, self.count = gpu_type, memory_bytes, count


def gpu_offers(env: Environment, changes: list[EnvChange], hardware_file: str | None) -> list[GpuOffer]:
    """Per node and GPU type, the most GPUs it could ever hold (initial plus every addition)."""
    added: Counter[str] = Counter()
    for change in changes:
        if change.amount > 0:
            added[change.gpu_name] += change.amount
    offers: list[GpuOffer] = []
    for node in env.nodes:
        for gpu, count in zip(node.gpu_types, node.gpu_count_per_type):
            offers.append(GpuOffer(gpu, gpu_memory_bytes(node, gpu, hardware_file), count + added.pop(gpu, 0)))
    for gpu, count in added.items():  # a type no node has: the engine creates a node for it
        offers.append(GpuOffer(gpu, int(get_hardware(gpu, hardware_file).memory_bytes), count))
    return offers


def fits_somewhere(model: str, offers: list[GpuOffer], serving: ServingOptions, precision: Precision | None,
                   calibration: str | None, hardware_file: str | None, engine: EngineFamily = "vllm-v1",
                   offline: bool = False) -> bool:
    """Whether some GPU type holds the model's weights plus some KV cache at some TP degree (as a node sizes it)."""
    from llmsim.memory.sizing import size_replica

    return any(size_replica(model, offer.gpu_type, gpus=offer.count, memory_bytes=offer.memory_bytes, opts=serving,
                            precision=precision, calibration=calibration, hardware_file=hardware_file,
                            engine=engine, offline=offline)[1].fits
               for offer in offers)


def check_deployments_fit(env: Environment, path: str, serving_override: Callable[[ServingOptions], ServingOptions]
                          | None, precision_override: Callable[[Precision | None], Precision | None] | None,
                          calibration: str | None,
                          hardware_file: str | None, engine: EngineFamily = "vllm-v1", offline: bool = False) -> None:
    """Every start-up deployment's model fits (weights and some KV cache) at its tp on some GPU type of
    its node, as the node will size it; else a ConfigError saying what would fit."""
    from llmsim.errors import ConfigError
    from llmsim.memory.sizing import size_replica

    for i, node in enumerate(env.nodes):
        for j, dep in enumerate(node.deployments):
            serving = dep.serving or env.defaults
            serving = serving_override(serving) if serving_override is not None else serving
            precision = precision_override(dep.precision) if precision_override is not None else dep.precision
            reasons, smallest = [], None
            for gpu_type, count in zip(node.gpu_types, node.gpu_count_per_type):
                if count < dep.tp:
                    continue
                memory = gpu_memory_bytes(node, gpu_type, hardware_file)
                _, plan = size_replica(dep.model, gpu_type, gpus=count, memory_bytes=memory, opts=serving,
                                       precision=precision, calibration=calibration, hardware_file=hardware_file,
                                       tp=dep.tp, interconnect=node.interconnect, engine=engine, offline=offline)
                if plan.fits:
                    break
                reasons.append(f"{gpu_type}: {plan.reason}")
                wider, wider_plan = size_replica(dep.model, gpu_type, gpus=count, memory_bytes=memory, opts=serving,
                                                 precision=precision, calibration=calibration,
                                                 hardware_file=hardware_file, interconnect=node.interconnect,
                                                 engine=engine, offline=offline)
                if wider_plan.fits and wider.tp <= count:
                    smallest = wider.tp if smallest is None else min(smallest, wider.tp)
            else:
                if reasons:
                    expected = (f"tp {smallest} (fits this node)" if smallest is not None
                                else "a smaller model, a lower precision, or bigger GPUs")
                    raise ConfigError(f"{dep.model} does not fit at tp {dep.tp}: " + "; ".join(reasons), file=path,
                                      field=f"nodes[{i}].deployments[{j}]", expected=expected)


class ModelChecker:
    """Checks each distinct model name once: known (by `canonical`), and fits some GPU of the cluster."""

    def __init__(self, fits: Callable[[str], bool], canonical: Callable[[str], str]) -> None:
        self._fits, self._canonical = fits, canonical
        self._checked: set[str] = set()

    def check(self, name: str, line: int | None, field: str) -> None:
        """Raise UnknownModelError or ModelTooLargeError, located at `line` and `field`."""
        if name in self._checked:
            return
        try:
            canonical = self._canonical(name)
        except UnknownModelError as err:
            err.line, err.field = line, field
            raise
        if not self._fits(canonical):
            raise ModelTooLargeError(f"model {name!r} fits on no GPU of the cluster at any tensor-parallel degree",
                                     line=line, field=field,
                                     expected="a smaller model, bigger GPUs or more GPUs per node (drop --strict "
                                              "to fail such requests with reason model_does_not_fit)")
        self._checked.add(name)


def strict_prepass(requests: Iterable[tuple[int, TraceRequest]], checker: ModelChecker, *,
                   override: str | None, name_for: Callable[[str | None], str]) -> int:
    """Stream every request once: token counts and models; return how many requests were read."""
    count = 0
    for _, tr in requests:
        count += 1
        problem = token_problem(tr)
        if problem is not None:
            raise token_error(tr, problem[0], problem[1])
        if override is None:
            checker.check(at_line(name_for, tr), tr.line, "model")
    return count


def at_line(name_for: Callable[[str | None], str], tr: TraceRequest) -> str:
    """The model name to use for `tr`, an error located at its line when there is none."""
    try:
        return name_for(tr.model)
    except LlmsimError as err:
        err.line = tr.line
        raise


# ---- locating UTF-8 errors ----------------------------------------------------------------------
def first_non_utf8_line(path: str) -> int | None:
    """1-based number of the first line that is not valid UTF-8 (streamed; None if all are)."""
    try:
        with open_input(path) as handle:
            for lineno, raw in bounded_lines(handle, path):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return lineno
    except (OSError, LlmsimError):
        return None
    return None


def locate_utf8_error(err: LlmsimError) -> None:
    """Give a reader's 'not UTF-8' error the exact line (a newline never sits inside a UTF-8 character)."""
    if isinstance(err, InputFileError) and err.message.startswith("not UTF-8") and err.file:
        line = first_non_utf8_line(err.file)
        if line is not None:
            err.message, err.line = "not UTF-8 text", line
