"""Environment-change files (the seed's JSONL: timestamp, gpu_name, amount), validated up front."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import msgspec

from llmsim.config.environment import MAX_GPUS, Environment
from llmsim.config.jsonfile import read_bytes, split_validation_error
from llmsim.errors import ConfigError, InputFileError


MAX_TIMESTAMP_S = 1e9  # about 31 years: anything later is a unit mistake (ms or ns for seconds)


class EnvChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """At `timestamp` seconds, add `amount` GPUs of `gpu_name` (remove them when negative), on `node` when given.

    Without `node`, added GPUs join the first node holding that type (a new node when none does) and
    removed GPUs leave the node of highest id holding it. With `node`, that node gains or loses them
    (what it lacks on removal is taken from nodes of lower id holding that type, highest first).
    """

    timestamp: float
    gpu_name: str
    amount: int
    node: int | None = None
    line: int = 0


def _decode_line(raw: bytes, path: str, lineno: int) -> EnvChange:
    try:
        change = msgspec.json.decode(raw, type=EnvChange)
    except msgspec.ValidationError as err:
        field, message = split_validation_error(err)
        raise ConfigError(message, file=path, line=lineno, field=field) from None
    except msgspec.DecodeError:
        raise ConfigError("not valid JSON", file=path, line=lineno, expected="one JSON object per line") from None
    return msgspec.structs.replace(change, line=lineno)


def _check(change: EnvChange, prev_t: float, counts: Counter[str], path: str, known: list[str],
           nodes: set[int]) -> None:
    lineno = change.line
    if change.node is not None and change.node not in nodes:
        raise ConfigError(f"node {change.node} is not in the environment", file=path, line=lineno, field="node",
                          expected="one of the node_ids " + ", ".join(str(n) for n in sorted(nodes)))
    if not change.timestamp <= MAX_TIMESTAMP_S:
        raise ConfigError(f"timestamp {change.timestamp} is absurdly far in the future", file=path, line=lineno,
                          field="timestamp", expected=f"seconds <= {MAX_TIMESTAMP_S:g}")
    if change.timestamp < 0 or change.timestamp < prev_t:
        raise ConfigError(f"timestamp {change.timestamp} is before the previous change ({prev_t})",
                          file=path, line=lineno, field="timestamp", expected="non-decreasing seconds >= 0")
    if change.gpu_name not in known:
        raise ConfigError(f"unknown GPU id {change.gpu_name!r}", file=path, line=lineno, field="gpu_name",
                          expected="one of " + ", ".join(known))
    if change.amount == 0:
        raise ConfigError("amount is 0", file=path, line=lineno, field="amount", expected="a non-zero integer")
    if counts.total() + change.amount > MAX_GPUS:
        raise ConfigError(f"adds {change.amount:,} GPUs", file=path, line=lineno, field="amount",
                          expected=f"at most {MAX_GPUS:,} GPUs in the cluster at any time")
    if counts[change.gpu_name] + change.amount < 0:
        raise ConfigError(f"removes {-change.amount} {change.gpu_name} but only {counts[change.gpu_name]} exist then",
                          file=path, line=lineno, field="amount", expected=f"at least {-counts[change.gpu_name]}")


def load_env_changes(path: str | Path, env: Environment, known_gpus: list[str]) -> list[EnvChange]:
    """Read and validate a change file against the environment it will be applied to."""
    data = read_bytes(path)
    counts: Counter[str] = Counter()
    for node in env.nodes:
        for gpu, n in zip(node.gpu_types, node.gpu_count_per_type):
            counts[gpu] += n
    changes: list[EnvChange] = []
    prev_t = 0.0
    for lineno, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputFileError("not UTF-8", file=str(path), line=lineno) from None
        change = _decode_line(raw, str(path), lineno)
        _check(change, prev_t, counts, str(path), known_gpus, {n.node_id for n in env.nodes})
        counts[change.gpu_name] += change.amount
        prev_t = change.timestamp
        changes.append(change)
    return changes
