"""The per-replica serving engine: continuous batching, chunked prefill, paged KV, preemption, fast-forward."""

from llmsim.batching.engine import ReplicaEngine, Run
from llmsim.batching.scheduler import BatchPlan, schedule
from llmsim.batching.sequence import Sequence
from llmsim.batching.queue import WaitingQueue
from llmsim.batching.step import StepOutput

__all__ = ["BatchPlan", "ReplicaEngine", "Run", "Sequence", "StepOutput", "WaitingQueue", "schedule"]
