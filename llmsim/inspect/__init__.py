"""Streaming inspection of an events.jsonl log: filter, one request's timeline, summary counts."""

from __future__ import annotations

from llmsim.inspect.filter import EventFilter, filter_events
from llmsim.inspect.source import events_path, stream_events
from llmsim.inspect.summary import Summary, summarize
from llmsim.inspect.timeline import Timeline, build_timeline

__all__ = ["EventFilter", "Summary", "Timeline", "build_timeline", "events_path", "filter_events",
           "stream_events", "summarize"]
