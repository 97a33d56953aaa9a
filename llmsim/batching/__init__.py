"""The per-replica serving-engine scheduler: continuous batching, chunked prefill, preemption."""

from llmsim.batching.scheduler import BatchPlan, schedule
from llmsim.batching.sequence import Sequence
from llmsim.batching.queue import WaitingQueue

__all__ = ["BatchPlan", "Sequence", "WaitingQueue", "schedule"]
