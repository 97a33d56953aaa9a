"""Model loading time: weights read from disk (or the network), then copied over PCIe per GPU."""

from __future__ import annotations

from llmsim.config.environment import Infrastructure, ModelLoadingConfig

MB = 1e6
GB = 1e9


def load_time_s(
    total_weight_bytes: int, weight_bytes_per_gpu: int, infra: Infrastructure, loading: ModelLoadingConfig,
) -> float:
    """Seconds to load a model on a node: disk (MB/s) + PCIe (GB/s) as the seed did, plus extras.

    The whole checkpoint is read once from disk (or fetched over the network, Gbit/s, for remote
    weights); each GPU then receives its shard over its own PCIe link in parallel; finally the
    engine warms up (CUDA graphs, profiling run) for `engine_warmup_s`.
    """
    if loading.weights_location == "remote":
        fetch_s = total_weight_bytes * 8 / (infra.network_bandwidth_gbps * GB)
    else:
        fetch_s = total_weight_bytes / (infra.disk_bandwidth_mbps * MB)
    pcie_s = weight_bytes_per_gpu / (infra.pcie_bandwidth_gbps * GB)
    return fetch_s + pcie_s + infra.engine_warmup_s
