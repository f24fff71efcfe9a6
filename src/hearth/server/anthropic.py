"""Anthropic-compatible route: /v1/messages (with the full streaming event sequence), a thin
shell over the Anthropic format's serve codec."""

from __future__ import annotations

import uuid

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from hearth.server.handling import Exchange, route
from hearth.server.sse import EventStreamResponse
from hearth.wire.anthropic import FORMAT


async def _messages(ex: Exchange) -> Response | EventStreamResponse:
    body = await ex.json()
    parsed = await ex.parse(
        lambda: ex.serve.request_from_wire(body),
        model=body.get("model"),
        listed=("messages", body.get("messages")),
    )
    served = ex.model(parsed.model, parsed.request)
    response_id = f"msg_{uuid.uuid4().hex[:24]}"
    if parsed.stream:
        encoder = ex.serve.stream_encoder(model=parsed.model, response_id=response_id)
        return await ex.stream(served, parsed.request, encoder)
    answer = await ex.complete(served, parsed.request)
    return JSONResponse(
        ex.serve.response_to_wire(answer, model=parsed.model, response_id=response_id)
    )


def routes() -> list[BaseRoute]:
    return [route(FORMAT, "/v1/messages", _messages, ["POST"])]
