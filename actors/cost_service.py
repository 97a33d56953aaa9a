"""The CostService actor: answers iteration-time queries from the roofline cost model."""

from __future__ import annotations

from llmsim.cost import CostModel
from llmsim.cost.build import build_cost_model
from llmsim.kernel.actor import Actor, handles
from protocols.cost import CostQuery, CostReply, Deployment


class CostServiceActor(Actor):
    """Keeps one CostModel per deployment and replies with integer-ns iteration times."""

    def __init__(self, name: str, *, calibration: str | None = "default", hardware_file: str | None = None) -> None:
        super().__init__(name)
        self.calibration = calibration
        self.hardware_file = hardware_file
        self._models: dict[Deployment, CostModel] = {}
        self.queries = 0

    def model_for(self, dep: Deployment) -> CostModel:
        """The (cached) cost model of a deployment."""
        model = self._models.get(dep)
        if model is None:
            model = self._models[dep] = build_cost_model(dep, self.calibration, self.hardware_file)
        return model

    @handles(CostQuery)
    def on_query(self, q: CostQuery) -> None:
        self.queries += 1
        model = self.model_for(q.deployment)
        if q.k == 1:
            times = [model.iteration_ns(q.prefill_new, q.prefill_cached, q.decode_ctx)]
        else:
            times = model.decode_run_list(q.decode_ctx, q.k)
        if q.tail_k:
            times += model.decode_run_list(q.tail_ctx, q.tail_k)
        self.ctx.send(self.ctx.sender, CostReply(query_id=q.query_id, times_ns=tuple(times)))

