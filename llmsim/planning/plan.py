"""`llmsim plan`: per GPU type and TP, the fewest replicas (or the highest rate) that meet the SLOs, by cost."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from llmsim.config.environment import MAX_GPUS
from llmsim.errors import UsageError
from llmsim.options import ReplayOptions
from llmsim.planning.backends import default_workers
from llmsim.planning.prices import Price, load_prices
from llmsim.planning.runner import PointResult, Runner
from llmsim.planning.search import MonotoneSearch
from llmsim.planning.sweep import metrics, point_options

METRICS = ("ttft", "tpot", "itl", "e2e")
STATS = ("p50", "p90", "p99", "mean", "max")


class Criterion(msgspec.Struct, frozen=True):
    """One SLO: a latency statistic at most `limit` seconds (stat None: a per-request target for attainment)."""

    metric: str
    stat: str | None
    limit: float

    @property
    def name(self) -> str:
        """As written on the command line: ttft_p99, tpot."""
        return self.metric if self.stat is None else f"{self.metric}_{self.stat}"


def parse_slo(text: str) -> list[Criterion]:
    """`ttft_p99=2,tpot_p99=0.08` (statistics) or `ttft=2,tpot=0.08` (per-request targets)."""
    out = []
    for part in text.split(","):
        key, _, value = part.strip().partition("=")
        metric, _, stat = key.partition("_")
        try:
            limit = float(value)
        except ValueError:
            limit = float("nan")
        if metric not in METRICS or (stat and stat not in STATS) or not limit > 0 or (not stat and metric not in ("ttft", "tpot")):
            raise UsageError(f"bad SLO {part!r}", field="--slo",
                             expected="METRIC_STAT=SECONDS with METRIC ttft, tpot, itl or e2e and STAT p50, p90, "
                                      "p99, mean or max, or ttft=S / tpot=S per request, e.g. ttft_p99=2,tpot_p99=0.08")
        out.append(Criterion(metric, stat or None, limit))
    return out


def request_targets(criteria: Sequence[Criterion]) -> dict[str, float]:
    """The per-request TTFT/TPOT targets a run counts attainment against (the tightest limit given for each)."""
    out: dict[str, float] = {}
    for c in criteria:
        if c.metric in ("ttft", "tpot"):
            key = f"slo_{c.metric}_s"
            out[key] = min(out.get(key, c.limit), c.limit)
    return out


def judge(stats: dict[str, Any], criteria: Sequence[Criterion], attainment: float | None) -> str | None:
    """None when the run meets every SLO; otherwise why not (one phrase)."""
    req = stats["requests"]
    if req["failed"]:
        reasons = req["failed_by_reason"]
        return "model does not fit" if set(reasons) == {"model_does_not_fit"} else f"{req['failed']} requests failed"
    if not req["completed"]:
        return "no request completed"
    for c in criteria:
        if c.stat is not None and stats["latency"][f"{c.metric}_s"][c.stat] > c.limit:
            return f"{c.name} {stats['latency'][f'{c.metric}_s'][c.stat]:.3g} s > {c.limit:g} s"
    if attainment is not None and stats["slo"]["attainment"] < attainment:
        return f"attainment {stats['slo']['attainment']:.3f} < {attainment:g}"
    return None


class Candidate(msgspec.Struct, frozen=True):
    """A GPU type and tensor-parallel degree to size."""

    hardware: str
    tp: int


class PlanResult(msgspec.Struct, kw_only=True):
    """The ranked table, every probe made (candidate, value, stats, verdict), and how many runs it took."""

    columns: list[str]
    rows: list[dict[str, Any]]
    probes: list[dict[str, Any]]
    runs: int


class Planner:
    """The search over replica counts (or rates) for every candidate, one parallel batch of runs per round."""

    def __init__(self, base: Mapping[str, Any], candidates: Sequence[Candidate], criteria: Sequence[Criterion],
                 runner: Runner, *, attainment: float | None = None, max_replicas: int = 64,
                 max_rate: bool = False, replicas: int | None = None, rate_range: tuple[float, float] = (0.1, 1000.0),
                 rate_tolerance: float = 0.02, workers: int | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.base = {**base, **request_targets(criteria)}
        self.candidates, self.criteria, self.runner = list(candidates), list(criteria), runner
        self.attainment, self.max_rate, self.replicas = attainment, max_rate, replicas
        self.max_replicas = max_replicas
        self.rate_high, self.rate_low = rate_range[1], rate_range[0]
        self.step = 1 + rate_tolerance
        self.workers = workers or default_workers()
        self.log = log
        self.probes: list[dict[str, Any]] = []

    def rate(self, i: int) -> float:
        """The arrival rate of step i (1: the highest; each step 1/(1+tolerance) lower)."""
        return float(f"{self.rate_high / self.step ** (i - 1):.4g}")

    def _cap(self, cand: Candidate) -> int:
        if self.max_rate:
            return int(math.log(self.rate_high / self.rate_low) / math.log(self.step)) + 1
        return max(1, min(self.max_replicas, MAX_GPUS // cand.tp))

    def options(self, cand: Candidate, value: int) -> ReplayOptions:
        """The run configuration of one probe."""
        fields = {**self.base, "hardware": cand.hardware, "tp": cand.tp, "environment": None}
        if self.max_rate:
            fields.update(n_engines=self.replicas, arrival_rate=self.rate(value))
        else:
            fields["n_engines"] = value
        return point_options(fields)

    def search(self) -> dict[Candidate, tuple[MonotoneSearch, dict[int, PointResult], str | None]]:
        """Run the rounds until every candidate's answer is known; per candidate its search and probes."""
        state = {c: (MonotoneSearch(self._cap(c), grow=not self.max_rate), {}, None)
                 for c in self.candidates}  # type: dict[Candidate, tuple[MonotoneSearch, dict[int, PointResult], str | None]]
        round_no = 0
        while active := [c for c, (s, _, err) in state.items() if not s.done and err is None]:
            round_no += 1
            k = max(1, self.workers // len(active))
            batch = [(c, v) for c in active for v in state[c][0].probes(k)]
            results = self.runner.run([self.options(c, v) for c, v in batch])
            for (cand, value), result in zip(batch, results):
                search, seen, _ = state[cand]
                seen[value] = result
                verdict = judge(result.stats, self.criteria, self.attainment) if result.stats else result.error
                self.probes.append({"hardware": cand.hardware, "tp": cand.tp, "value": self._shown(value),
                                    "passed": verdict is None, "why": verdict or "", "stats": result.stats})
                if result.error:
                    state[cand] = (search, seen, result.error)
                elif verdict == "model does not fit":
                    search.infeasible = True
                else:
                    search.record(value, verdict is None)
            if self.log:
                self.log(f"plan: round {round_no}: {len(batch)} runs, {len(active)} candidates searching, "
                         f"{self.runner.runs} simulated so far")
        return state

    def _shown(self, value: int) -> float:
        return self.rate(value) if self.max_rate else value

    def table(self, prices: Mapping[str, Price]) -> PlanResult:
        """Search, then one row per candidate, the passing ones first, cheapest first."""
        state = self.search()
        rows = [self._row(c, *state[c], prices) for c in self.candidates]
        cost_key = "cost_per_million_output_tokens_usd" if self.max_rate else "cost_per_hour_usd"
        rows.sort(key=lambda r: (r["status"] != "ok", r[cost_key] is None, r[cost_key] or 0.0, r["gpus"] or 0))
        for rank, row in enumerate(rows, start=1):
            row["rank"] = rank if row["status"] == "ok" else ""
        value_col = "max_rate_rps" if self.max_rate else "replicas"
        columns = ["rank", "hardware", "tp", *(["replicas"] if self.max_rate else []), value_col, "gpus",
                   "cost_per_hour_usd", "cost_per_million_output_tokens_usd",
                   *(f"{c.name}_s" for c in self.criteria if c.stat), "slo_attainment", "runs", "status"]
        return PlanResult(columns=columns, rows=rows, probes=self.probes, runs=self.runner.runs)

    def _row(self, cand: Candidate, search: MonotoneSearch, seen: dict[int, PointResult], error: str | None,
             prices: Mapping[str, Price]) -> dict[str, Any]:
        row: dict[str, Any] = {"hardware": cand.hardware, "tp": cand.tp, "runs": len(seen)}
        if self.max_rate:
            row["replicas"] = self.replicas
        value_col = "max_rate_rps" if self.max_rate else "replicas"
        answer = search.answer if error is None else None
        stats = seen[answer].stats if answer is not None else None
        figures = metrics(stats, prices) if stats else {}
        row[value_col] = self._shown(answer) if answer is not None else None
        row["gpus"] = figures.get("gpus")
        row["cost_per_hour_usd"] = figures.get("cost_per_hour_usd")
        row["cost_per_million_output_tokens_usd"] = figures.get("cost_per_million_output_tokens_usd")
        for c in self.criteria:
            if c.stat and stats:
                row[f"{c.name}_s"] = stats["latency"][f"{c.metric}_s"][c.stat]
        row["slo_attainment"] = stats["slo"]["attainment"] if stats else None
        row["status"] = "ok" if stats else self._why_not(search, seen, error)
        if stats and search.inconsistent:
            row["status"] = "ok (not monotone: check nearby values)"
        return row

    def _why_not(self, search: MonotoneSearch, seen: dict[int, PointResult], error: str | None) -> str:
        if error:
            return f"error: {error}"
        verdicts = [judge(r.stats, self.criteria, self.attainment) for r in seen.values() if r.stats]
        if "model does not fit" in verdicts:
            return "model does not fit"
        what = f"{self.rate(search.cap):g} req/s" if self.max_rate else f"{search.cap} replicas"
        return f"SLOs not met even at {what}"


def run_plan(base: Mapping[str, Any], gpus: Sequence[str], tps: Sequence[int], criteria: Sequence[Criterion],
             out_dir: str, *, attainment: float | None = None, max_replicas: int = 64, max_rate: bool = False,
             replicas: int | None = None, rate_range: tuple[float, float] = (0.1, 1000.0),
             backend: str = "process", workers: int | None = None, address: str | None = None,
             prices: str | Mapping[str, Price] | None = None, progress: bool = False) -> PlanResult:
    """Size every GPU type × TP (see Planner); runs are kept under `out_dir` and reused by later plans."""
    if max_rate and not replicas:
        raise UsageError("--max-rate needs the cluster size", field="--replicas", expected="--replicas N")
    _check_candidates(gpus, tps, base.get("hardware_file"))
    price_table = prices if isinstance(prices, Mapping) else load_prices(prices)
    runner = Runner(out_dir, backend=backend, workers=workers, address=address)
    log = (lambda line: print(line, file=sys.stderr)) if progress else None
    planner = Planner(base, [Candidate(g, t) for g in gpus for t in tps], criteria, runner, attainment=attainment,
                      max_replicas=max_replicas, max_rate=max_rate, replicas=replicas, rate_range=rate_range,
                      workers=workers, log=log)
    return planner.table(price_table)


def _check_candidates(gpus: Sequence[str], tps: Sequence[int], hardware_file: str | None) -> None:
    """Known GPU ids and TP degrees, before any run."""
    from llmsim.cost import hardware_ids

    known = hardware_ids(hardware_file)
    for gpu in gpus:
        if gpu not in known:
            raise UsageError(f"unknown GPU id {gpu!r}", field="--gpus", expected="one of " + ", ".join(known))
    for tp in tps:
        if tp not in (1, 2, 4, 8, 16):
            raise UsageError(f"TP {tp} is not 1, 2, 4, 8 or 16", field="--tp")
    if not gpus or not tps:
        raise UsageError("no candidate", field="--gpus" if not gpus else "--tp", expected="at least one value")
