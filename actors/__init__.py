"""The actors of a simulated cluster: global engine, router, nodes, GPUs and the cost service."""
