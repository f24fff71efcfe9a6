"""The check that Ray is installed, for the commands that run on a Ray cluster."""

from __future__ import annotations

import importlib.util

from hearth.errors import ConfigurationError


def require_ray(command: str) -> None:
    """Raise a clear error when Ray (Serve and Data) is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigurationError(
            f"{command} needs Ray: install it with pip install 'hearthlm[ray]' "
            "(ray[serve,data]), on this machine and on every node of the cluster"
        )
