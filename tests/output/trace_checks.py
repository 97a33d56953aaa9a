"""Structural checks of a Chrome trace: slice nesting per thread, async and flow pairing."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def _ns(us: float) -> int:
    return round(us * 1000)


def nesting_violations(events: list[dict[str, Any]]) -> list[str]:
    """Complete slices ("X") on one (pid, tid) must nest: a slice ends before its parent ends."""
    by_thread: dict[tuple[int, int], list[tuple[int, int, str]]] = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            start = _ns(e["ts"])
            by_thread[(e["pid"], e["tid"])].append((start, start + _ns(e["dur"]), e["name"]))
    problems = []
    for thread, slices in by_thread.items():
        slices.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        stack: list[tuple[int, int, str]] = []
        for start, end, name in slices:
            while stack and stack[-1][1] <= start and not (stack[-1][1] == start and end == start):
                stack.pop()
            if stack and end > stack[-1][1]:
                problems.append(f"{thread}: {name} [{start}, {end}] overlaps {stack[-1]}")
            stack.append((start, end, name))
    return problems


def async_violations(events: list[dict[str, Any]]) -> list[str]:
    """Every async begin ("b") has its end ("e") with the same name, properly nested per (cat, id)."""
    open_: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    problems = []
    per_key: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["ph"] in ("b", "e"):
            per_key[(e.get("cat", ""), str(e["id"]))].append(e)
    for key, seq in per_key.items():
        stack = open_[key]
        for e in seq:
            if e["ph"] == "b":
                stack.append((e["name"], _ns(e["ts"])))
            elif not stack or stack[-1][0] != e["name"]:
                problems.append(f"{key}: end {e['name']!r} without a matching begin")
            elif _ns(e["ts"]) < stack[-1][1]:
                problems.append(f"{key}: {e['name']!r} ends before it begins")
            else:
                stack.pop()
        if stack:
            problems.append(f"{key}: {[n for n, _ in stack]} never end")
    return problems


def flow_pairs(events: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """The bind_ids that start flows and those that end them."""
    outs = {e["bind_id"] for e in events if e.get("flow_out")}
    ins = {e["bind_id"] for e in events if e.get("flow_in")}
    return outs, ins
