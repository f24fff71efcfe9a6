"""OpenAI Responses routes: ``POST /v1/responses`` (stateful), ``GET`` / ``DELETE
/v1/responses/{id}``, ``GET /v1/responses/{id}/input_items`` and ``POST
/v1/responses/{id}/cancel``; thin shells over the Responses format
(:mod:`hearth.wire.responses`) and the app's :class:`~hearth.server.response_keeper.ResponseKeeper`.

A response is stored (``store``, true by default) once it has its answer — streamed or not —
so ``previous_response_id`` can continue it; a streamed response whose client went away before
the end is not stored. ``background: true`` answers at once with a ``queued`` response that
runs as a task of the app; ``GET`` shows it ``queued``, ``in_progress``, then ``completed``
(or ``incomplete``, ``failed``, ``cancelled``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import anyio
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from hearth.errors import InvalidRequestError, RequestTimeoutError
from hearth.messages import JsonObject, JsonValue, Message
from hearth.request import ChatRequest
from hearth.response import Response as Answer
from hearth.response import ResponseAccumulator
from hearth.server.handling import Exchange, public_error, route
from hearth.server.response_keeper import ResponseKeeper
from hearth.server.served import Served
from hearth.server.sse import EventStreamResponse
from hearth.store.responses import StoredResponse
from hearth.wire.responses import FORMAT
from hearth.wire.responses.errors import error_to_wire
from hearth.wire.responses.request import ResponsesCall, new_id, parse
from hearth.wire.responses.response import first_call_only, response_object, response_to_wire
from hearth.wire.responses.stream import StreamEncoder

_TERMINAL = ("completed", "incomplete", "failed")


def _keeper(ex: Exchange) -> ResponseKeeper:
    keeper: ResponseKeeper = ex.request.app.state.responses
    return keeper


@dataclass(frozen=True)
class _Turn:
    """One response being made: what to echo and how to store it."""

    keeper: ResponseKeeper
    call: ResponsesCall
    id: str
    created: float
    history: tuple[Message, ...]

    def object(self, status: str, **extra: object) -> JsonObject:
        return response_object(
            response_id=self.id, model=self.call.model, status=status, output=[],
            echo=self.call.echo, created_at=self.created, **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    def save(self, body: JsonObject, answer: Answer | None = None) -> None:
        """Store ``body`` (with the conversation so far when there is an answer)."""
        if not self.call.store:
            return
        context = None
        if answer is not None:
            context = (*self.history, *self.call.input, answer.message)
        stored = StoredResponse(self.id, self.created, body, self.call.input_items, context)
        self.keeper.store.put(stored)

    def answered(self, answer: Answer) -> JsonObject:
        """The response object of a finished answer, stored."""
        if not self.call.parallel_tool_calls:
            answer = first_call_only(answer)
        body = response_to_wire(
            answer, model=self.call.model, response_id=self.id, echo=self.call.echo,
            created_at=self.created,
        )  # fmt: skip
        self.save(body, answer)
        return body

    def failed(self, exc: BaseException) -> JsonObject:
        _, wire = error_to_wire(public_error(exc))
        detail = wire.get("error")
        info: JsonObject = detail if isinstance(detail, dict) else {}
        error: JsonObject = {
            "code": info.get("code") or info.get("type") or "server_error",
            "message": str(info.get("message") or exc),
        }
        body = self.object("failed", error=error)
        self.save(body)
        return body


async def _create(ex: Exchange) -> Response | EventStreamResponse:
    call = parse(await ex.json())
    keeper = _keeper(ex)
    history = keeper.history(call.previous_response_id)
    request = call.chat_request(history)
    served = ex.model(call.model, request)
    turn = _Turn(keeper, call, new_id("resp"), time.time(), history)
    if call.background:
        return _start_background(ex, turn, served, request)
    if call.stream:
        encoder = StreamEncoder(
            model=call.model, response_id=turn.id, echo=call.echo, created_at=turn.created,
            single_call=not call.parallel_tool_calls, finished=_stream_finished(turn),
        )  # fmt: skip
        return await ex.stream(served, request, encoder)
    answer = await ex.complete(served, request)
    return JSONResponse(turn.answered(answer))


def _stream_finished(turn: _Turn) -> Callable[[JsonObject, Answer | None], None]:
    def finished(body: JsonObject, answer: Answer | None) -> None:
        turn.save(body, answer)

    return finished


def _start_background(
    ex: Exchange, turn: _Turn, served: Served, request: ChatRequest
) -> JSONResponse:
    if not turn.call.store:
        raise InvalidRequestError(
            "background: a background response must be stored to be read back; leave store "
            "out (or true)"
        )
    if turn.call.stream:
        raise InvalidRequestError(
            "background: hearth does not stream a background response; leave stream out and "
            "poll GET /v1/responses/{id}"
        )
    queued = turn.object("queued")
    timeout = ex.state.settings.timeout

    async def work() -> None:
        turn.save(turn.object("in_progress"))
        try:
            answer = await _collect(served, request, timeout)
        except Exception as exc:  # stored as the response's error, as OpenAI reports it
            turn.failed(exc)
        else:
            turn.answered(answer)

    turn.keeper.start(turn.id, work)  # it runs from the route's next await: queued is first
    turn.save(queued)
    return JSONResponse(queued)


async def _collect(served: Served, request: ChatRequest, timeout: float) -> Answer:
    deadline = time.monotonic() + timeout
    acc = ResponseAccumulator()
    try:
        with anyio.fail_after(timeout):
            async with served.admission.slot(deadline):
                events = served.backend.astream(request)
                try:
                    while acc.done is None:
                        acc.add(await events.__anext__())
                finally:
                    with anyio.CancelScope(shield=True):
                        await _aclose(events)
    except TimeoutError:
        raise RequestTimeoutError(
            f"the background response's deadline ({timeout:g} s) passed"
        ) from None
    return acc.response()


async def _aclose(events: object) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


async def _retrieve(ex: Exchange) -> Response:
    if ex.request.query_params.get("stream") in ("true", "1"):
        raise InvalidRequestError(
            "stream: hearth does not replay a stored response as a stream; GET it without "
            "stream=true"
        )
    return JSONResponse(_keeper(ex).get(_path_id(ex)).body)


async def _delete(ex: Exchange) -> Response:
    keeper = _keeper(ex)
    response_id = _path_id(ex)
    keeper.get(response_id)
    keeper.cancel(response_id)
    keeper.store.delete(response_id)
    return JSONResponse({"id": response_id, "object": "response", "deleted": True})


async def _cancel(ex: Exchange) -> Response:
    keeper = _keeper(ex)
    found = keeper.get(_path_id(ex))
    if found.body.get("background") is not True:
        raise InvalidRequestError(
            "only a background response can be cancelled; this one was answered in its request"
        )
    if found.status in _TERMINAL:
        raise InvalidRequestError(
            f"response {found.id!r} is already {found.status}; only a queued or in-progress "
            "response can be cancelled"
        )
    keeper.cancel(found.id)
    body: JsonObject = {**found.body, "status": "cancelled"}
    keeper.store.put(replace(found, body=body))
    return JSONResponse(body)


async def _input_items(ex: Exchange) -> Response:
    found = _keeper(ex).get(_path_id(ex))
    query = ex.request.query_params
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequestError(f"order: expected asc or desc, got {order!r}")
    raw_limit = query.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise InvalidRequestError(f"limit: expected an integer from 1 to 100, got {raw_limit!r}")
    items = list(found.input_items)
    if order == "desc":
        items.reverse()
    after = query.get("after")
    if after is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise InvalidRequestError(f"after: no input item {after!r} in this response")
        items = items[ids.index(after) + 1 :]
    page = items[: int(raw_limit)]
    data: list[JsonValue] = list(page)
    return JSONResponse({
        "object": "list", "data": data,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": len(items) > len(page),
    })  # fmt: skip


def _path_id(ex: Exchange) -> str:
    return str(ex.request.path_params["response_id"])


def routes() -> list[BaseRoute]:
    return [
        route(FORMAT, "/v1/responses", _create, ["POST"]),
        route(FORMAT, "/v1/responses/{response_id}", _retrieve, ["GET"]),
        route(FORMAT, "/v1/responses/{response_id}", _delete, ["DELETE"]),
        route(FORMAT, "/v1/responses/{response_id}/input_items", _input_items, ["GET"]),
        route(FORMAT, "/v1/responses/{response_id}/cancel", _cancel, ["POST"]),
    ]
