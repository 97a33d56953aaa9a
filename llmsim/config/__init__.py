"""Configuration: the cluster environment, environment changes and serving options."""

from llmsim.config.changes import EnvChange, load_env_changes
from llmsim.config.environment import (
    DeploymentSpec,
    Environment,
    Infrastructure,
    ModelLoadingConfig,
    NodeSpec,
    Precision,
    ServingOptions,
    load_environment,
    legacy_environment,
)

__all__ = [
    "DeploymentSpec", "EnvChange", "Environment", "Infrastructure", "ModelLoadingConfig",
    "NodeSpec", "Precision", "ServingOptions", "legacy_environment", "load_env_changes",
    "load_environment",
]
