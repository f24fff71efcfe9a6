"""What ``hearth serve`` prints once it listens: the models it serves and where each SDK and
the chat page find them."""

from __future__ import annotations

from collections.abc import Sequence

_EVERY_INTERFACE = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def base_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` as a client on this machine reaches it (IPv6 in brackets; a
    wildcard bind is reached through loopback)."""
    shown = _EVERY_INTERFACE.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def banner(
    models: Sequence[str],
    *,
    host: str,
    port: int,
    uds: str | None = None,
    web_ui: bool = True,
    needs_key: bool = False,
) -> str:
    """The start-up text: the served models, then one line per client with its base URL."""
    lines = [f"hearth serve: {', '.join(models)}"]
    if uds is not None:
        lines.append(f"  listening on the Unix socket {uds}; the routes are those below")
        url = "http://localhost"
    else:
        url = base_url(host, port)
        if host in _EVERY_INTERFACE:
            lines.append(f"  listening on every interface ({host or '0.0.0.0'}), port {port}")
    if web_ui:
        lines.append(f"  chat page  {url}/")
    lines += [
        f"  OpenAI     base_url={url}/v1",
        f"  Anthropic  base_url={url}",
        f"  Gemini     base_url={url} (api_version v1beta)",
        f"  ready?     {url}/ready (local models load in the background)",
    ]
    if needs_key:
        lines.append("  clients must send the API key (Authorization: Bearer KEY)")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)
