"""OpenAI-compatible routes: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models.

``/v1/completions`` is raw text completion: the prompt is continued as it is, with no chat
template, on models whose backend takes a raw prompt (``Capabilities.raw_completion``: local
models, and remote ones whose API has raw completion); the others answer 400 pointing to
/v1/chat/completions.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hearth.backends.base import raw_completion_unsupported
from hearth.embeddings import Embeddings
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import JsonObject, JsonValue
from hearth.server.handling import Exchange, handle
from hearth.server.router import Served
from hearth.server.sse import EventStreamResponse
from hearth.wire.openai import FORMAT
from hearth.wire.openai.completion_answers import (
    CompletionEncoder,
    completion_shape,
    response_body,
)
from hearth.wire.openai.embed import embed_request_from_wire, embed_response_to_wire
from hearth.wire.openai.inbound import completion_request_from_wire, include_usage

_TEMPLATE_FIELDS = ("chat_template", "chat_template_kwargs", "template")
_TEMPLATE_SWITCHES = frozenset({"enable_thinking"})


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def _refuse_templates(body: JsonObject) -> None:
    """A template (or variables for one) is never taken from a request; the one exception is
    ``chat_template_kwargs.enable_thinking``, the reasoning switch vLLM and llama-server take
    there (read as ``thinking`` by the codec)."""
    for name in _TEMPLATE_FIELDS:
        kwargs = body.get(name)
        if name == "chat_template_kwargs" and isinstance(kwargs, dict) and kwargs:
            others = sorted(set(kwargs) - _TEMPLATE_SWITCHES)
            if not others:
                continue
            raise InvalidRequestError(
                f"chat_template_kwargs.{others[0]}: hearth takes only enable_thinking (true or "
                "false) from chat_template_kwargs; the model's own template is used"
            )
        if name in body:
            raise InvalidRequestError(
                f"{name}: hearth never takes a chat template from a request; the model's own "
                "template is used"
            )


async def _chat(ex: Exchange) -> Response | EventStreamResponse:
    body = await ex.json()
    _refuse_templates(body)
    parsed = await ex.parse(
        lambda: ex.serve.request_from_wire(body),
        model=body.get("model"),
        listed=("messages", body.get("messages")),
    )
    served = ex.model(parsed.model, parsed.request)
    response_id = _new_id("chatcmpl")
    if parsed.stream:
        encoder = ex.serve.stream_encoder(model=parsed.model, response_id=response_id, body=body)
        return await ex.stream(served, parsed.request, encoder)
    answer = await ex.complete(served, parsed.request)
    return JSONResponse(
        ex.serve.response_to_wire(answer, model=parsed.model, response_id=response_id)
    )


async def _completions(ex: Exchange) -> Response | EventStreamResponse:
    body = await ex.json()
    _refuse_templates(body)
    parsed = await ex.parse(
        lambda: completion_request_from_wire(body), model=body.get("model"), listed=("", None)
    )
    served = ex.model(parsed.model, parsed.request)
    if not served.backend.capabilities().raw_completion:
        raise raw_completion_unsupported(
            served.id, "use /v1/chat/completions, which sends messages through the chat template"
        )
    response_id = _new_id("cmpl")
    shape = completion_shape(body, parsed.request)
    if parsed.stream:
        encoder = CompletionEncoder(
            shape, model=parsed.model, response_id=response_id, include_usage=include_usage(body)
        )
        return await ex.stream(served, parsed.request, encoder)
    answer = await ex.complete(served, parsed.request)
    return JSONResponse(response_body(shape, answer, model=parsed.model, rid=response_id))


async def _embeddings(ex: Exchange) -> Response:
    body = await ex.json()
    parsed = await ex.off_loop(lambda: embed_request_from_wire(body))
    served = ex.model(parsed.model)
    _refuse_local_chat_model(served)

    async def work() -> Embeddings:
        async with served.admission.slot(ex.deadline):
            return await served.backend.aembed(parsed.request)

    result = await ex.guarded(work)
    return JSONResponse(
        embed_response_to_wire(result, model=parsed.model, encoding_format=parsed.encoding_format)
    )


def _refuse_local_chat_model(served: Served) -> None:
    """A local chat model could embed only with a second context of its own (hundreds of MB
    per model); the server leaves embeddings to embedding models, as OpenAI's API does."""
    caps = served.backend.capabilities()
    if caps.accelerator != "remote" and caps.raw_completion:  # a local text-generation model
        raise UnsupportedFeatureError(
            f"{served.id} is a chat model; /v1/embeddings needs an embedding model: serve one "
            "beside it (hearth serve --model local:minilm) and name it in 'model'"
        )


async def _models(ex: Exchange) -> Response:
    served = ex.state.router.served
    data: list[JsonValue] = [
        {"id": s.id, "object": "model", "created": s.created, "owned_by": "hearth"} for s in served
    ]
    return JSONResponse({"object": "list", "data": data})


async def _model(ex: Exchange) -> Response:
    served = ex.state.router.get(ex.request.path_params["model"])
    return JSONResponse(
        {"id": served.id, "object": "model", "created": served.created, "owned_by": "hearth"}
    )


Handler = Callable[[Exchange], Awaitable[Response | EventStreamResponse]]


def _route(path: str, fn: Handler, methods: list[str]) -> Route:
    async def endpoint(request: Request) -> Response | EventStreamResponse:
        return await handle(request, FORMAT, fn)

    return Route(path, endpoint, methods=methods)


def routes() -> list[BaseRoute]:
    return [
        _route("/v1/chat/completions", _chat, ["POST"]),
        _route("/v1/completions", _completions, ["POST"]),
        _route("/v1/embeddings", _embeddings, ["POST"]),
        _route("/v1/models", _models, ["GET"]),
        _route("/v1/models/{model:path}", _model, ["GET"]),
    ]
