"""The virtual-time kernel: integer-nanosecond clock, mailbox heap, actor base and run loop."""

from llmsim.kernel.actor import Actor, Context
from llmsim.kernel.clock import NS_PER_S, ns_to_s, s_to_ns
from llmsim.kernel.engine import Simulation
from llmsim.kernel.mailbox import PHASE_ITERATION_END, PHASE_MESSAGE, PHASE_SCHEDULE, Envelope, Mailbox

__all__ = ["Actor", "Context", "Envelope", "Mailbox", "NS_PER_S", "PHASE_ITERATION_END", "PHASE_MESSAGE", "PHASE_SCHEDULE", "Simulation", "ns_to_s", "s_to_ns"]
