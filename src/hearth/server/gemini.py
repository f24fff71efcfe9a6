"""Gemini-compatible routes: /v1beta/models/{model}:generateContent and
:streamGenerateContent (SSE with ``alt=sse``, else a JSON array, as Google's API does), and the
model list. The same two methods answer under ``/v1/models/…`` too, where newer google-genai
SDKs post by default (``GET /v1/models`` stays OpenAI's model list)."""

from __future__ import annotations

import uuid

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from hearth.errors import InvalidRequestError, ModelNotFoundError
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent
from hearth.messages import JsonValue, TextPart, ThinkingPart, ToolCallPart
from hearth.request import ChatRequest
from hearth.response import Response as ChatResponse
from hearth.server.handling import Exchange, route
from hearth.server.served import Served
from hearth.server.sse import EventStreamResponse
from hearth.wire.base import StreamEncoder
from hearth.wire.gemini import FORMAT

_ACTIONS = ("generateContent", "streamGenerateContent")


def _split(ex: Exchange) -> tuple[str, str]:
    target = str(ex.request.path_params["target"])
    model, sep, action = target.rpartition(":")
    if not sep or action not in _ACTIONS:
        raise ModelNotFoundError(
            f"unknown method {target!r}; use models/{{model}}:generateContent or "
            ":streamGenerateContent",
            model=target,
        )
    return model, action


async def _generate(ex: Exchange) -> Response | EventStreamResponse:
    model, action = _split(ex)
    body = await ex.json()
    stream = action == "streamGenerateContent"
    parsed = await ex.parse(
        lambda: ex.serve.request_from_wire(body, model=model, stream=stream),
        model=model,
        listed=("contents", body.get("contents")),
    )
    served = ex.model(parsed.model, parsed.request)
    response_id = uuid.uuid4().hex[:24]
    if parsed.stream:
        encoder = ex.serve.stream_encoder(model=parsed.model, response_id=response_id)
        if ex.request.query_params.get("alt") == "sse":
            return await ex.stream(served, parsed.request, encoder)
        return await _array(ex, served, parsed.request, encoder)
    answer = await ex.complete(served, parsed.request)
    return JSONResponse(
        ex.serve.response_to_wire(answer, model=parsed.model, response_id=response_id)
    )


async def _array(
    ex: Exchange, served: Served, request: ChatRequest, encoder: StreamEncoder
) -> Response:
    """``streamGenerateContent`` without ``alt=sse``: Google answers with one JSON array of
    chunks; hearth sends the same array once the answer is complete."""
    answer = await ex.complete(served, request)
    chunks: list[JsonValue] = []
    for event in _replay(answer):
        chunks += [c.data for c in encoder.encode(event) if c.data is not None]
    return JSONResponse(chunks)


def _replay(answer: ChatResponse) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    for part in answer.message.parts:
        if isinstance(part, TextPart):
            events.append(TextDelta(part.text, part.signature))
        elif isinstance(part, ThinkingPart):
            events.append(ThinkingDelta(part.text, part.signature, part.redacted, part.meta))
        elif isinstance(part, ToolCallPart):
            events.append(ToolCallEvent(part))
    events.append(Done(answer.stop_reason, answer.usage, answer.stop_sequence))
    return events


async def _list(ex: Exchange) -> Response:
    models: list[JsonValue] = [
        {
            "name": f"models/{s.id}",
            "displayName": s.id,
            "supportedGenerationMethods": list(_ACTIONS),
        }
        for s in ex.state.router.served
    ]
    return JSONResponse({"models": models})


async def _get(ex: Exchange) -> Response:
    name = str(ex.request.path_params["target"])
    if ":" in name:
        raise InvalidRequestError(f"{name}: use POST for generateContent")
    served = ex.state.router.get(name)
    return JSONResponse({"name": f"models/{served.id}", "displayName": served.id})


def routes() -> list[BaseRoute]:
    return [
        route(FORMAT, "/v1beta/models", _list, ["GET"]),
        route(FORMAT, "/v1beta/models/{target:path}", _generate, ["POST"]),
        route(FORMAT, "/v1beta/models/{target:path}", _get, ["GET"]),
        route(FORMAT, "/v1/models/{target:path}", _generate, ["POST"]),
    ]
