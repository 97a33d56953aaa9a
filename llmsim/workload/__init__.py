"""Workloads: trace readers, arrival processes, synthetic generators and trace statistics."""

from __future__ import annotations

from llmsim.workload.arrivals import ArrivalOptions, with_arrivals
from llmsim.workload.formats import TRACE_FORMATS, detect_format, open_trace
from llmsim.workload.request import TraceRequest

__all__ = [
    "TRACE_FORMATS",
    "ArrivalOptions",
    "TraceRequest",
    "detect_format",
    "open_trace",
    "with_arrivals",
]
