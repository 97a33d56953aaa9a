"""Every message round-trips through msgspec JSON and msgpack unchanged."""

from __future__ import annotations

import msgspec
import pytest

from protocols import AnyMessage, RequestSpec
from protocols.control import Drain, NextArrival, ProvisionModel, ReplicaReady
from protocols.cost import CostQuery, CostReply, Deployment
from protocols.environment import AddGpus, RemoveGpus
from protocols.gpu import IterationDone, LoadReport
from protocols.requests import AssignRequest, EnqueueRequest, RequestFinished, ReturnRequests, RouteRequest

REQ = RequestSpec(id="r1", model="llama-3.1-8b-instruct", input_tokens=10, output_tokens=5, arrival_ns=7)
DEP = Deployment(model="llama-3.1-8b-instruct", hardware="nvidia_A100", tp=2)
SAMPLES = [
    RouteRequest(request=REQ), AssignRequest(request=REQ, replica="n1/g0"), EnqueueRequest(request=REQ),
    RequestFinished(request=REQ, outcome="completed", node=1, replica="n1/g0", finish_ns=9, first_token_ns=8),
    ReturnRequests(requests=(REQ, REQ), from_replica="n1/g0"), IterationDone(generation=3),
    LoadReport(replica="n1/g0", model="m", outstanding=1, running=1, waiting=0, kv_used_blocks=2,
               kv_total_blocks=10, block_size=16),
    CostQuery(query_id=1, deployment=DEP, prefill_new=(5,), prefill_cached=(0,), decode_ctx=(3, 4), k=1),
    CostReply(query_id=1, times_ns=(10, 20)), NextArrival(request=REQ), ProvisionModel(model="m"),
    ReplicaReady(replica="n1/g0", node=1, model="m", gpu_type="nvidia_A100", kv_total_blocks=3, block_size=16),
    Drain(return_requests=True), AddGpus(gpu_type="nvidia_A100", amount=2), RemoveGpus(gpu_type="nvidia_A100", amount=1),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_json_and_msgpack(msg: object) -> None:
    """Tagged union decoding gives back an equal message of the same type."""
    for enc, dec in ((msgspec.json.encode, msgspec.json.decode), (msgspec.msgpack.encode, msgspec.msgpack.decode)):
        back = dec(enc(msg), type=AnyMessage)
        assert back == msg and type(back) is type(msg)


def test_messages_are_frozen() -> None:
    with pytest.raises(AttributeError):
        REQ.input_tokens = 3  # type: ignore[misc]
