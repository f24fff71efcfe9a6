"""Ollama's base URL as its own client reads ``OLLAMA_HOST``."""

from __future__ import annotations

import ipaddress
import urllib.parse

from hearth.errors import ConfigurationError


def parse_ollama_host(host: str | None) -> str:
    """``OLLAMA_HOST`` → a base URL, as the ``ollama`` Python client reads it:
    ``0.0.0.0`` → ``http://0.0.0.0:11434``, ``:8000`` → ``http://127.0.0.1:8000``,
    ``https://h`` → ``https://h:443``, a path is kept."""
    host, port = host or "", 11434
    scheme, _, hostport = host.partition("://")
    if not hostport:
        scheme, hostport = "http", host
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    split = urllib.parse.urlsplit(f"{scheme}://{hostport}")
    try:
        name = split.hostname or "127.0.0.1"
        port = split.port or port
    except ValueError as exc:
        raise ConfigurationError(f"cannot read the Ollama host {host!r}: {exc}") from None
    try:
        if isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address):
            name = f"[{name}]"
    except ValueError:
        pass
    path = split.path.strip("/")
    return f"{scheme}://{name}:{port}/{path}" if path else f"{scheme}://{name}:{port}"
