"""``hearth ps`` and ``hearth stop MODEL``: the models a running ``hearth serve`` has loaded, and
unloading one. Both talk to the server's Ollama API (``GET /api/ps``; ``POST /api/generate`` with
``keep_alive`` 0, as ``ollama stop`` does), so they work against Ollama too.

The server is ``--url``, else ``$HEARTH_SERVER_URL``, else the config's ``[server]`` host and
port (``http://127.0.0.1:8080``); its key is ``--api-key`` or ``$HEARTH_API_KEY``.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from hearth.errors import APIConnectionError, HearthError, InvalidRequestError
from hearth.messages import JsonObject

ENV_URL = "HEARTH_SERVER_URL"
NEVER_YEAR = 9999

UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help=f"The server (default: ${ENV_URL}, else the config's host:port)."),
]
KeyOpt = Annotated[
    str | None, typer.Option(help="The server's key. Also $HEARTH_API_KEY.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the server's JSON.")]


def register(app: typer.Typer) -> None:
    app.command("ps")(ps)
    app.command("stop")(stop)


def ps(url: UrlOpt = None, api_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """The models a running hearth serve has loaded: memory, backend, context, until when."""
    body = _call("GET", "/api/ps", url, api_key)
    if as_json:
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    from hearth.cli.models import human_size

    table = Table(box=None, header_style="bold")
    for column in ("NAME", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"):
        table.add_column(column)
    models = body.get("models")
    for model in models if isinstance(models, list) else []:
        if not isinstance(model, dict):
            continue
        size = model.get("size")
        table.add_row(
            str(model.get("name", "")),
            human_size(size) if isinstance(size, int) else "-",
            _processor(model),
            str(model.get("context_length", "-")),
            _until(model.get("expires_at")),
        )
    Console(highlight=False).print(table)


def stop(
    model: Annotated[str, typer.Argument(help="The loaded model to unload.")],
    url: UrlOpt = None,
    api_key: KeyOpt = None,
) -> None:
    """Unload a model from a running hearth serve (once its running requests finish)."""
    _call("POST", "/api/generate", url, api_key, {"model": model, "keep_alive": 0})
    sys.stderr.write(f"stopped {model}\n")


def _processor(model: JsonObject) -> str:
    """Ollama's PROCESSOR column: the share of the model in GPU memory, and hearth's backend."""
    size, vram = model.get("size"), model.get("size_vram")
    backend = model.get("backend")
    if not isinstance(size, int) or not isinstance(vram, int) or size <= 0:
        return str(backend or "-")
    share = round(100 * vram / size)
    where = "CPU" if share == 0 else f"{share}% GPU" if share == 100 else f"{share}% GPU/CPU"
    offloaded, layers = model.get("layers_offloaded"), model.get("layers")
    detail = [str(backend)] if backend and backend != "CPU" else []
    if isinstance(offloaded, int) and isinstance(layers, int) and offloaded > 0:
        detail.append(f"{offloaded}/{layers} layers")
    return f"{where} ({', '.join(detail)})" if detail else where


def _until(value: object) -> str:
    if not isinstance(value, str):
        return "-"
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if when.year >= NEVER_YEAR:
        return "Forever"
    seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds <= 1:
        return "now"
    if seconds < 120:
        return f"{seconds:.0f} seconds from now"
    return f"{seconds / 60:.0f} minutes from now"


def server_url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    env = os.environ.get(ENV_URL)
    if env:
        return env.rstrip("/")
    from hearth.config import load_config

    server = load_config().server
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    return f"http://{host}:{server.port}"


def _call(
    method: str, path: str, url: str | None, key: str | None, body: JsonObject | None = None
) -> JsonObject:
    import httpx

    base = server_url(url)
    token = key or os.environ.get("HEARTH_API_KEY")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(method, base + path, json=body, headers=headers, timeout=30.0)
    except httpx.HTTPError as exc:
        raise APIConnectionError(
            f"no server answered at {base} ({type(exc).__name__}); start one with `hearth "
            f"serve`, or give its address with --url or ${ENV_URL}"
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400:
        detail = data.get("error") if isinstance(data, dict) else None
        if response.status_code == 404:
            raise InvalidRequestError(str(detail or f"{base}{path}: not found"))
        raise HearthError(f"{base}{path}: HTTP {response.status_code}: {detail or response.text}")
    return data if isinstance(data, dict) else {}
