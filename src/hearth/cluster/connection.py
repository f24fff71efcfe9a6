"""Joining the Ray cluster (or starting one here), with a clear error when it is not there."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from hearth.errors import ConfigurationError

if TYPE_CHECKING:
    from hearth.config.schema import Config

NAMESPACE = "hearth"
REACH_TIMEOUT = 5.0


def connect(address: str | None, *, quiet: bool = False) -> None:
    """``ray.init`` for ``address`` (None or ``local``: a one-machine cluster started here;
    ``auto``: the cluster this machine belongs to; else ``HOST:PORT`` of its head), unless
    this process is already connected."""
    import ray

    if ray.is_initialized():
        return
    options: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": not quiet}
    if address in (None, "local"):
        options["include_dashboard"] = False
    else:
        _check_reachable(address)
        options["address"] = address
    try:
        ray.init(**options)
    except ConnectionError as exc:
        raise _unreachable(address, str(exc)) from None


def _unreachable(address: str | None, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"cannot reach the Ray cluster at {address!r} ({why}); start it with `ray start "
        "--head` on its head node (and `ray start --address=HEAD:6379` on the others), or "
        "leave the address out to start a one-machine cluster here"
    )


def _check_reachable(address: str) -> None:
    """Fail at once when ``HOST:PORT`` does not answer (Ray itself would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or str(exc)) from None


def check_portable(config: Config) -> None:
    """Refuse a config that cannot travel to the replicas: one with an ``api_key`` written in
    the file (hearth never pickles a key; on a cluster, keys come from each node's
    environment)."""
    from ray import cloudpickle  # what Ray sends the deployments' arguments with

    try:
        cloudpickle.dumps(config)  # type: ignore[no-untyped-call]
    except TypeError as exc:
        if "Secret" not in str(exc):
            raise
        raise ConfigurationError(
            f"{config.path} has an api_key written in it, which hearth does not send across "
            'a Ray cluster; give that provider api_key_env = "NAME" instead and set $NAME '
            "on every node before `ray start`"
        ) from None
