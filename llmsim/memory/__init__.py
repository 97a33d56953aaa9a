"""GPU memory: the paged KV block pool and the node memory planner."""

from llmsim.memory.kv_cache import KVBlockPool, blocks_for
from llmsim.memory.planner import MemoryPlan, plan_replica

__all__ = ["KVBlockPool", "MemoryPlan", "blocks_for", "plan_replica"]
