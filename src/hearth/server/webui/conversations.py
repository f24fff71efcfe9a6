"""The chat page's JSON API: the served models' abilities and the conversation store.

* ``GET /ui/api/models``: ``{"data": [{"id", "status", "chat", "vision", "tools", "thinking",
  "context_length"}]}``, what each served model can do (the image button needs ``vision``);
* ``GET /ui/api/conversations``: ``{"data": [{"id", "title", "model", "created", "updated",
  "turns"}]}``, the most recently updated first;
* ``POST /ui/api/conversations``: a new conversation with its first turn → 201 ``{"id"}``;
* ``GET /ui/api/conversations/{id}``: its fields, ``system`` and ``messages``;
* ``POST /ui/api/conversations/{id}/turns``: the next turn → ``{"id", "turn"}``;
* ``DELETE /ui/api/conversations/{id}``: 204.

Messages are hearth's conversation JSON (:mod:`hearth.history`: ``{"role", "parts": [{"kind":
"text", …}]}``), the same as ``hearth logs --json`` writes, so thinking and tool calls keep
their shape. A turn's body is ``{"messages": [...], "stop_reason": …}``; a new conversation's
also takes ``title``, ``model`` and ``system``. The system prompt is the conversation's, not a
message. With an API key every route needs it, as on the model routes; errors are OpenAI-style
JSON bodies. The store belongs to the app (:class:`WebUIState` on ``app.state.webui``) and is
opened on the first request that needs it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hearth.errors import HearthError, InvalidRequestError
from hearth.events import STOP_REASONS
from hearth.history import messages_from_data, messages_to_data
from hearth.messages import JsonObject, JsonValue, Message
from hearth.server.handling import (
    Exchange,
    ServerState,
    check_key,
    error_response,
    escape_log,
)
from hearth.server.residency import swappable
from hearth.store import (
    ConversationInfo,
    ConversationNotFoundError,
    ConversationStore,
    default_path,
)
from hearth.wire.openai import FORMAT
from hearth.wire.openai.errors import error_to_wire

log = logging.getLogger("hearth.server")

LIST_LIMIT = 500
TITLE_CHARS = 80


class WebUIState:
    """What the chat page's routes share: the conversation store at ``path`` (None: hearth's
    usual one), opened on first use and closed with the app."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._store: ConversationStore | None = None
        self._lock = threading.Lock()

    def store(self) -> ConversationStore:
        """The store, opened on the first call (in a worker thread: it touches the disk)."""
        with self._lock:
            if self._store is None:
                try:
                    self._store = ConversationStore(self.path)
                except (OSError, sqlite3.Error) as exc:
                    where = self.path or default_path()
                    raise HearthError(
                        f"the conversation store {where} cannot be opened ({exc}); check the "
                        "path given to --store and its permissions"
                    ) from exc
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


Handler = Callable[[Request], Awaitable[Response]]


def _api(fn: Handler) -> Handler:
    """``fn`` behind the server's key check, its errors as OpenAI-style JSON bodies."""

    async def endpoint(request: Request) -> Response:
        state: ServerState = request.app.state.hearth
        try:
            if state.settings.api_key is not None:
                check_key(request, state.settings.api_key.reveal())
            return await fn(request)
        except ConversationNotFoundError as exc:
            return JSONResponse(error_to_wire(exc)[1], status_code=404)
        except Exception as exc:
            if not isinstance(exc, HearthError):
                log.exception("chat page request failed: %s", escape_log(request.url.path))
            return error_response(error_to_wire, exc)

    return endpoint


async def _store(request: Request) -> ConversationStore:
    ui: WebUIState = request.app.state.webui
    return await anyio.to_thread.run_sync(ui.store)


def _exact(store: ConversationStore, ref: str) -> str:
    """``ref`` if it is a conversation's whole id (no prefixes over HTTP: a DELETE must never
    pick a conversation by its first letters)."""
    if store.resolve(ref) != ref:
        raise ConversationNotFoundError(ref)
    return ref


async def _body(request: Request) -> JsonObject:
    """The JSON body, with the server's size limit and checks (those of the model routes)."""
    serve = FORMAT.serve
    assert serve is not None  # the OpenAI format is served
    return await Exchange(request, FORMAT, serve).json()


def _info(info: ConversationInfo) -> JsonObject:
    data: JsonObject = dict(asdict(info))
    data.pop("system", None)
    return data


def _messages(body: JsonObject) -> list[Message]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise InvalidRequestError("messages: required, a non-empty array of messages")
    messages = messages_from_data(raw)
    for i, message in enumerate(messages):
        if message.role == "system":
            raise InvalidRequestError(
                f"messages[{i}].role: the system prompt is the conversation's 'system' field"
            )
    return messages


def _optional_str(body: JsonObject, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(f"{name}: expected a string or null")
    return value


def _stop_reason(body: JsonObject) -> str | None:
    value = _optional_str(body, "stop_reason")
    if value is not None and value not in STOP_REASONS:
        raise InvalidRequestError(
            f"stop_reason: expected one of {', '.join(STOP_REASONS)} or null, got {value!r}"
        )
    return value


def _title(body: JsonObject, messages: list[Message]) -> str:
    title = _optional_str(body, "title")
    if title:
        return title[:TITLE_CHARS]
    first = next((m.text for m in messages if m.role == "user" and m.text.strip()), "")
    return " ".join(first.split())[:TITLE_CHARS]


async def _models(request: Request) -> Response:
    state: ServerState = request.app.state.hearth
    data: list[JsonValue] = []
    on_demand = state.residency.preloaded  # the models left unloaded load on first request
    for served in state.router.served:
        caps = served.backend.capabilities()
        status = "ready" if served.loaded else "failed" if served.load_error else "loading"
        if status == "loading" and on_demand and swappable(served):
            status = "unloaded"  # shown as is; the first message loads it
        data.append({
            "id": served.id, "status": status, "chat": caps.streaming, "vision": caps.vision,
            "tools": caps.tools, "thinking": caps.thinking, "context_length": caps.context_length,
        })  # fmt: skip
    return JSONResponse({"data": data})


async def _list(request: Request) -> Response:
    store = await _store(request)
    infos = await anyio.to_thread.run_sync(lambda: store.list(LIST_LIMIT))
    return JSONResponse({"data": [_info(i) for i in infos]})


async def _load(request: Request) -> Response:
    store = await _store(request)
    ref = request.path_params["cid"]
    conversation = await anyio.to_thread.run_sync(lambda: store.load(_exact(store, ref)))
    data = _info(conversation.info)
    data["system"] = conversation.info.system
    data["messages"] = messages_to_data(m for t in conversation.turns for m in t.messages)
    data["stop_reasons"] = [t.stop_reason for t in conversation.turns]
    return JSONResponse(data)


async def _create(request: Request) -> Response:
    body = await _body(request)
    messages = _messages(body)
    store = await _store(request)

    def start() -> str:
        return store.start(
            messages,
            title=_title(body, messages),
            model=_optional_str(body, "model"),
            system=_optional_str(body, "system") or None,
            stop_reason=_stop_reason(body),
        )

    cid = await anyio.to_thread.run_sync(start)
    return JSONResponse({"id": cid}, status_code=201)


async def _append(request: Request) -> Response:
    body = await _body(request)
    messages = _messages(body)
    store = await _store(request)
    ref = request.path_params["cid"]

    def append() -> tuple[str, int]:
        cid = _exact(store, ref)
        stop = _stop_reason(body)
        return cid, store.append_turn(cid, messages, stop_reason=stop)

    cid, turn = await anyio.to_thread.run_sync(append)
    return JSONResponse({"id": cid, "turn": turn})


async def _delete(request: Request) -> Response:
    store = await _store(request)
    ref = request.path_params["cid"]
    await anyio.to_thread.run_sync(lambda: store.delete(_exact(store, ref)))
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    return [
        Route("/ui/api/models", _api(_models), methods=["GET"]),
        Route("/ui/api/conversations", _api(_list), methods=["GET"]),
        Route("/ui/api/conversations", _api(_create), methods=["POST"]),
        Route("/ui/api/conversations/{cid}", _api(_load), methods=["GET"]),
        Route("/ui/api/conversations/{cid}", _api(_delete), methods=["DELETE"]),
        Route("/ui/api/conversations/{cid}/turns", _api(_append), methods=["POST"]),
    ]
