"""Ollama's native API: ``/api/chat``, ``/api/generate``, ``/api/embed`` (and the legacy
``/api/embeddings``), ``/api/tags``, ``/api/show``, ``/api/ps``, ``/api/version``,
``/api/pull``, ``/api/delete``, and ``/`` (the liveness answer Ollama's clients look for). A thin
shell over :mod:`hearth.wire.ollama`: streams are NDJSON; errors are ``{"error": "…"}`` with
Ollama's status codes.

A model name with Ollama's ``:latest`` tag reaches the served model without it. ``num_ctx``
may ask for at most the window the model is served with. An empty chat or prompt is Ollama's
"load the model" request: it loads the model (``done_reason: "load"``); with ``keep_alive`` 0
it unloads it once its running requests finish (``done_reason: "unload"``, what ``ollama stop``
and ``hearth stop`` send). A request's ``keep_alive`` says how long its model stays loaded after
it (:mod:`hearth.server.residency`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute

from hearth.backends.base import raw_completion_unsupported
from hearth.embeddings import Embeddings
from hearth.errors import InvalidRequestError, ModelNotFoundError
from hearth.messages import JsonObject
from hearth.request import ChatRequest, EmbedRequest
from hearth.server.handling import Exchange, public_error, route
from hearth.server.model_facts import model_facts
from hearth.server.ollama_pull import delete, find_entry, pull_lines
from hearth.server.served import Served
from hearth.server.sse import EventStreamResponse, NDJSONResponse, json_line
from hearth.wire.ollama import FORMAT, embed, models, stream
from hearth.wire.ollama.errors import error_to_wire
from hearth.wire.ollama.generate import generate_from_wire
from hearth.wire.ollama.inbound import chat_from_wire
from hearth.wire.ollama.request_fields import OllamaRequest, Unset

_TAG = ":latest"
LIVENESS = "Ollama is running"
"""What ``GET /`` answers: the text Ollama's own clients check before they talk to a server."""


def _elapsed_ns(ex: Exchange) -> int:
    return int((time.monotonic() - ex.started) * 1e9)


def _served(ex: Exchange, name: str, request: ChatRequest | None = None) -> Served:
    """The served model ``name`` (Ollama's ``:latest`` tag dropped if need be)."""
    try:
        return ex.model(name, request)
    except ModelNotFoundError:
        if not name.lower().endswith(_TAG):
            raise
        return ex.model(name[: -len(_TAG)], request)


def _check_window(served: Served, parsed: OllamaRequest) -> None:
    """``num_ctx`` and ``num_predict`` against the window the model is served with."""
    window = served.backend.capabilities().context_length
    if window is None:
        return
    if parsed.num_ctx is not None and parsed.num_ctx > window:
        raise InvalidRequestError(
            f"options.num_ctx: {parsed.num_ctx} is more than the context window {served.id} is "
            f"served with ({window} tokens); the server sets it (--n-ctx, or --grow-context to "
            f"reload a model with a larger one), so ask for at most {window}"
        )
    wanted = parsed.request.settings.max_tokens if parsed.request is not None else None
    if wanted is not None and wanted > window:
        raise InvalidRequestError(
            f"options.num_predict: {wanted} is more than {served.id}'s whole context window "
            f"({window} tokens); ask for fewer, or -1 for no limit"
        )


async def _loaded(
    ex: Exchange, parsed: OllamaRequest, served: Served, generate: bool
) -> Response:
    """The answer to an empty request: Ollama's "load the model", or with ``keep_alive`` 0
    its "unload the model"."""
    if parsed.unload:
        await ex.state.residency.stop(served)
    else:
        async with served.admission.slot(ex.deadline, ex.keep_alive):
            pass  # holding it loads it; releasing it starts its keep_alive
    body: JsonObject = {"model": parsed.model, "created_at": stream.timestamp()}
    body.update({"response": ""} if generate else {"message": {"role": "assistant", "content": ""}})
    reason = "unload" if parsed.unload else "load"
    return JSONResponse({**body, "done_reason": reason, "done": True})


async def _answer(
    ex: Exchange, parsed: OllamaRequest, generate: bool
) -> Response | EventStreamResponse:
    served = _served(ex, parsed.model)
    if parsed.num_ctx is not None and ex.state.settings.grow_context:
        await ex.state.residency.grow(served, parsed.num_ctx, ex.deadline)
    _check_window(served, parsed)
    ex.model(served.id, parsed.request)  # a model that failed to load; the API's ranges
    if not isinstance(parsed.keep_alive, Unset):
        ex.keep_alive = parsed.keep_alive
    request = parsed.request
    if request is None:
        return await _loaded(ex, parsed, served, generate)
    if request.raw and not served.backend.capabilities().raw_completion:
        raise raw_completion_unsupported(
            served.id, "leave raw out: the prompt then goes through the model's own template"
        )
    if parsed.stream:
        encoder_type = stream.GenerateStreamEncoder if generate else stream.StreamEncoder
        encoder = encoder_type(model=parsed.model, response_id="")
        return await ex.stream(served, request, encoder)
    answer = await ex.complete(served, request)
    total = _elapsed_ns(ex)
    if generate:
        body = stream.generate_response_to_wire(answer, model=parsed.model, total_duration=total)
    else:
        body = stream.response_to_wire(
            answer, model=parsed.model, response_id="", total_duration=total
        )
    return JSONResponse(body)


async def _chat(ex: Exchange) -> Response | EventStreamResponse:
    return await _answer(ex, chat_from_wire(await ex.json()), generate=False)


async def _generate(ex: Exchange) -> Response | EventStreamResponse:
    return await _answer(ex, generate_from_wire(await ex.json()), generate=True)


async def _embed_with(ex: Exchange, name: str, request: EmbedRequest) -> Embeddings:
    served = _served(ex, name)

    async def work() -> Embeddings:
        async with served.admission.slot(ex.deadline):
            return await served.backend.aembed(request)

    return await ex.guarded(work)


async def _embed(ex: Exchange) -> Response:
    parsed = embed.embed_request_from_wire(await ex.json())
    result = await _embed_with(ex, parsed.model, parsed.request)
    return JSONResponse(
        embed.embed_response_to_wire(result, model=parsed.model, total_duration=_elapsed_ns(ex))
    )


async def _embeddings(ex: Exchange) -> Response:
    name, request = embed.embeddings_request_from_wire(await ex.json())
    if request is None:
        _served(ex, name)  # an unknown model is still a 404
        return JSONResponse(embed.embeddings_response_to_wire(None))
    result = await _embed_with(ex, name, request)
    return JSONResponse(embed.embeddings_response_to_wire(result))


async def _tags(ex: Exchange) -> Response:
    return JSONResponse(models.tags_to_wire([model_facts(s) for s in ex.state.router.served]))


async def _ps(ex: Exchange) -> Response:
    residency = ex.state.residency
    loaded = [
        model_facts(s, expires_in=residency.expires_in(s))
        for s in ex.state.router.served
        if s.loaded
    ]
    return JSONResponse(models.ps_to_wire(loaded))


async def _show(ex: Exchange) -> Response:
    name = models.model_name(await ex.json())
    return JSONResponse(models.show_to_wire(model_facts(_served(ex, name))))


async def _version(ex: Exchange) -> Response:
    return JSONResponse(models.version_to_wire())


async def _pull(ex: Exchange) -> Response | EventStreamResponse:
    body = await ex.json()
    entry = find_entry(ex.state, models.model_name(body, what="model to pull"))
    lines = pull_lines(ex.state, entry)
    if body.get("stream", True) is not False:
        return NDJSONResponse(_pull_stream(lines))
    last: JsonObject = {}
    async for last in lines:  # noqa: B007 - the last status is the answer
        pass
    return JSONResponse(last)


async def _pull_stream(lines: AsyncGenerator[JsonObject, None]) -> AsyncIterator[bytes]:
    """The pull's lines as NDJSON; a failure after the first line is Ollama's error line."""
    try:
        async for line in lines:
            yield json_line(line)
    except Exception as exc:
        yield json_line(error_to_wire(public_error(exc))[1])
    finally:
        await lines.aclose()


async def _delete(ex: Exchange) -> Response:
    await delete(ex.state, models.model_name(await ex.json(), what="model to delete"))
    return Response(status_code=200)


async def liveness(request: Request) -> Response:
    """``GET /`` for Ollama's clients (the app routes ``/`` here unless a browser asks)."""
    return PlainTextResponse(LIVENESS)


def routes() -> list[BaseRoute]:
    return [
        route(FORMAT, "/api/chat", _chat, ["POST"]),
        route(FORMAT, "/api/generate", _generate, ["POST"]),
        route(FORMAT, "/api/embed", _embed, ["POST"]),
        route(FORMAT, "/api/embeddings", _embeddings, ["POST"]),
        route(FORMAT, "/api/tags", _tags, ["GET"]),
        route(FORMAT, "/api/show", _show, ["POST"]),
        route(FORMAT, "/api/ps", _ps, ["GET"]),
        route(FORMAT, "/api/version", _version, ["GET"]),
        route(FORMAT, "/api/pull", _pull, ["POST"]),
        route(FORMAT, "/api/delete", _delete, ["DELETE"]),
    ]
