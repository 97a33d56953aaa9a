"""Every message that crosses an actor boundary, as msgspec Structs grouped by conversation."""

from protocols.base import Message
from protocols.control import ControlMessage
from protocols.cost import CostMessage
from protocols.disagg import DisaggMessage
from protocols.environment import EnvironmentMessage
from protocols.gpu import GpuMessage
from protocols.requests import RequestMessage, RequestSpec

AnyMessage = RequestMessage | GpuMessage | CostMessage | ControlMessage | EnvironmentMessage | DisaggMessage

__all__ = ["AnyMessage", "Message", "RequestSpec"]
