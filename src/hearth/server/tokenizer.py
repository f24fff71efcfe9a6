"""llama-server's tokenizer routes, with its names and shapes: ``POST /tokenize``,
``/detokenize`` and ``/apply-template``, for models whose vocabulary is at hand (local ones).

* ``/tokenize``: ``{"content": text, "add_special": false, "parse_special": true,
  "with_pieces": false}`` → ``{"tokens": [ids]}``, or with ``with_pieces``
  ``{"tokens": [{"id": id, "piece": text}]}`` (a piece that is not whole UTF-8, a character
  cut between tokens, is its list of bytes, as llama-server sends it).
* ``/detokenize``: ``{"tokens": [ids]}`` → ``{"content": text}``.
* ``/apply-template``: ``{"messages": [...]}`` (OpenAI chat messages, ``tools`` too) →
  ``{"prompt": text}``, the text the model reads for that chat.

``model`` names the served model; it may be left out when the server serves one. Errors have
OpenAI's shape, as llama-server's do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, JsonValue
from hearth.server.handling import Exchange, handle
from hearth.server.router import Served
from hearth.server.sse import EventStreamResponse
from hearth.tokens import Tokenizer, tokenizer
from hearth.wire.openai import FORMAT
from hearth.wire.openai.inbound import request_from_wire

T = TypeVar("T")


def _served(ex: Exchange, body: JsonObject) -> tuple[Served, Tokenizer]:
    name = body.get("model")
    served_models = ex.state.router.served
    if name is None and len(served_models) == 1:
        name = served_models[0].id
    if not isinstance(name, str):
        known = ", ".join(s.id for s in served_models)
        raise InvalidRequestError(
            f"model: required (a string) when the server serves several models ({known})"
        )
    served = ex.model(name)
    return served, tokenizer(served.backend)


async def _on_model(ex: Exchange, served: Served, work: Callable[[], T]) -> T:
    """``work()`` on a worker thread while ``served`` holds a slot: the model is loaded (by the
    server's residency, under its budget) and cannot be unloaded under the work."""
    async with served.admission.slot(ex.deadline):
        return await anyio.to_thread.run_sync(work)


def _flag(body: JsonObject, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{key}: expected a boolean, got {value!r}")
    return value


async def _tokenize(ex: Exchange) -> Response:
    body = await ex.json()
    content = body.get("content")
    if not isinstance(content, str):
        raise InvalidRequestError(
            f"content: required, the text to tokenize (a string), got {type(content).__name__}"
        )
    add_special = _flag(body, "add_special", False)
    parse_special = _flag(body, "parse_special", True)
    with_pieces = _flag(body, "with_pieces", False)
    served, tok = _served(ex, body)
    tokens = await _on_model(
        ex,
        served,
        lambda: tok.tokenize(content, add_special=add_special, parse_special=parse_special),
    )
    if not with_pieces:
        return JSONResponse({"tokens": list(tokens)})
    pieces = await _on_model(ex, served, lambda: tok.pieces(tokens))
    items: list[JsonValue] = [
        {"id": t, "piece": _piece(p)} for t, p in zip(tokens, pieces, strict=True)
    ]
    return JSONResponse({"tokens": items})


def _piece(data: bytes) -> JsonValue:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return list(data)


async def _detokenize(ex: Exchange) -> Response:
    body = await ex.json()
    tokens = body.get("tokens")
    if not isinstance(tokens, list):
        kind = type(tokens).__name__
        raise InvalidRequestError(f"tokens: required, a list of token ids, got {kind}")
    served, tok = _served(ex, body)
    text = await _on_model(ex, served, lambda: tok.detokenize(tokens))  # type: ignore[arg-type]
    return JSONResponse({"content": text})


async def _apply_template(ex: Exchange) -> Response:
    body = await ex.json()
    served, tok = _served(ex, body)
    parsed = await ex.off_loop(lambda: request_from_wire({**body, "model": served.id}))
    prompt = await _on_model(ex, served, lambda: tok.apply_template(parsed.request))
    return JSONResponse({"prompt": prompt})


Handler = Callable[[Exchange], Awaitable[Response]]


def _route(path: str, fn: Handler) -> Route:
    async def endpoint(request: Request) -> Response | EventStreamResponse:
        return await handle(request, FORMAT, fn)

    return Route(path, endpoint, methods=["POST"])


def routes() -> list[BaseRoute]:
    return [
        _route("/tokenize", _tokenize),
        _route("/detokenize", _detokenize),
        _route("/apply-template", _apply_template),
    ]
