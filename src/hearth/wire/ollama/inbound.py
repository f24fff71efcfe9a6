"""Ollama's ``/api/chat`` request body, inbound (for ``hearth serve``): the message history,
tools and options as a :class:`~hearth.request.ChatRequest`. Pydantic describes the body, so a
wrong type or an unknown role is an InvalidRequestError naming the field. The mapping is the
one :mod:`hearth.wire.ollama.chat` describes; the fields ``/api/generate`` shares are
:mod:`hearth.wire.ollama.request_fields`. Pure: no I/O.

An empty ``messages`` list is Ollama's "load the model" request (with ``keep_alive`` 0,
"unload it"): :func:`chat_from_wire` returns it with no ChatRequest, for the server to answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

from pydantic import BaseModel, ValidationError, field_validator

from hearth import errors
from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, Message, Part, ThinkingPart, ToolCallPart, ToolResultPart
from hearth.request import ChatRequest, ToolSpec
from hearth.wire.base import WireRequest
from hearth.wire.ollama.chat import (
    META_MATCHED_CALL_ID,
    META_SYNTHETIC_ID,
    STRICT,
    flag,
    text_parts,
    tool_call,
)
from hearth.wire.ollama.request_fields import (
    InboundOptions,
    OllamaRequest,
    image_from_wire,
    invalid,
    read_shared,
)


class _WireFunctionCall(BaseModel):
    model_config = STRICT
    name: str
    arguments: dict[str, Any] | None = None
    index: int | None = None


class _WireToolCall(BaseModel):
    model_config = STRICT
    id: str | None = None
    function: _WireFunctionCall


class _WireMessage(BaseModel):
    model_config = STRICT
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    thinking: str | None = None
    images: list[str] | None = None
    tool_calls: list[_WireToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _lowercase_role(cls, value: object) -> object:  # Ollama lower-cases roles too
        return value.lower() if isinstance(value, str) else value


class _WireToolFunction(BaseModel):
    model_config = STRICT
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class _WireTool(BaseModel):
    model_config = STRICT
    type: Literal["function"] = "function"
    function: _WireToolFunction


class _WireChatRequest(BaseModel):
    model_config = STRICT
    model: str | None = None
    messages: list[_WireMessage] | None = None
    tools: list[_WireTool] | None = None
    think: Any = None  # bool or a level; checked by hand for a clear message
    format: Any = None  # "json" or a JSON schema; checked by hand
    stream: bool | None = None
    options: InboundOptions | None = None
    keep_alive: Any = None  # seconds or a duration; checked by hand
    logprobs: bool | None = None
    top_logprobs: int | None = None


def chat_from_wire(body: JsonObject, *, model: str | None = None) -> OllamaRequest:
    """An inbound /api/chat body. Raises InvalidRequestError naming the field."""
    try:
        wire = _WireChatRequest.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None
    name = wire.model or model
    if not name:
        raise InvalidRequestError("model: required; name the model to chat with")
    shared = read_shared(wire)
    if not wire.messages:
        return shared.request(name, None)
    request = ChatRequest(
        messages=_HistoryReader().read(wire.messages),
        settings=shared.settings,
        tools=_tools_from_wire(wire.tools or []),
        response_format=shared.output,
    )
    return shared.request(name, request)


def request_from_wire(body: JsonObject, *, model: str | None = None) -> WireRequest:
    """An inbound /api/chat body as a WireRequest (the ServeCodec's form): like
    :func:`chat_from_wire`, but an empty ``messages`` list is refused."""
    parsed = chat_from_wire(body, model=model)
    if parsed.request is None:
        raise InvalidRequestError("messages: at least one message is required")
    return WireRequest(model=parsed.model, request=parsed.request, stream=parsed.stream)


class _HistoryReader:
    """Turns wire messages into hearth messages, matching tool results to their calls."""

    def __init__(self) -> None:
        self._out: list[Message] = []
        self._results: list[ToolResultPart] = []
        self._open: list[ToolCallPart] = []  # calls of the latest assistant message
        self._answered: set[int] = set()
        self._calls = 0

    def read(self, messages: Sequence[_WireMessage]) -> tuple[Message, ...]:
        for i, m in enumerate(messages):
            _check_fields(i, m)
            if m.role == "tool":
                self._results.append(self._result(i, m))
                continue
            self._flush()
            if m.role == "assistant":
                self._out.append(self._assistant(m))
            elif m.role == "user":
                self._out.append(Message("user", _user_parts(i, m)))
            else:
                self._out.append(Message("system", tuple(text_parts(m.content))))
        self._flush()
        return tuple(self._out)

    def _flush(self) -> None:
        if self._results:
            self._out.append(Message("tool", tuple(self._results)))
            self._results = []

    def _assistant(self, m: _WireMessage) -> Message:
        parts: list[Part] = [ThinkingPart(m.thinking)] if m.thinking else []
        parts.extend(text_parts(m.content))
        self._open = []
        for position, call in enumerate(m.tool_calls or []):
            fn = call.function
            self._open.append(
                tool_call(call.id, fn.name, fn.arguments or {}, fn.index, position, self._calls)
            )
            self._calls += 1
        self._answered = set()
        parts.extend(self._open)
        return Message("assistant", tuple(parts))

    def _result(self, i: int, m: _WireMessage) -> ToolResultPart:
        content = m.content or ""
        if m.tool_call_id is not None:
            k = next((k for k, c in enumerate(self._open) if c.id == m.tool_call_id), None)
            name = m.tool_name
            if k is not None:
                self._answered.add(k)
                name = name if name is not None else self._open[k].name
            return ToolResultPart(m.tool_call_id, content, name=name)
        k = next(
            (
                k
                for k, c in enumerate(self._open)
                if k not in self._answered and m.tool_name in (None, c.name)
            ),
            None,
        )
        if k is None:
            raise InvalidRequestError(
                f"messages[{i}].tool_name: no unanswered call to "
                f"{m.tool_name or 'any tool'!r} in the latest assistant message; "
                "give tool_call_id or the tool_name of a call"
            )
        self._answered.add(k)
        call = self._open[k]
        meta = None if flag(call.meta, META_SYNTHETIC_ID) else {META_MATCHED_CALL_ID: True}
        return ToolResultPart(call.id, content, name=m.tool_name or call.name, meta=meta)


def _check_fields(i: int, m: _WireMessage) -> None:
    if m.images and m.role != "user":
        raise errors.UnsupportedFeatureError(
            f"messages[{i}].images: only user messages can carry images in hearth"
        )
    if m.role != "assistant" and (m.thinking or m.tool_calls):
        field = "thinking" if m.thinking else "tool_calls"
        raise InvalidRequestError(
            f"messages[{i}].{field}: only assistant messages can carry {field}"
        )


def _user_parts(i: int, m: _WireMessage) -> tuple[Part, ...]:
    parts = text_parts(m.content)
    for j, data in enumerate(m.images or []):
        parts.append(image_from_wire(data, f"messages[{i}].images[{j}]"))
    return tuple(parts)


def _tools_from_wire(tools: Sequence[_WireTool]) -> tuple[ToolSpec, ...]:
    specs: list[ToolSpec] = []
    seen: set[str] = set()
    for j, tool in enumerate(tools):
        fn = tool.function
        if fn.name in seen:
            raise InvalidRequestError(f"tools[{j}].function.name: duplicate tool {fn.name!r}")
        seen.add(fn.name)
        description = fn.description or ""
        if fn.parameters is None:
            specs.append(ToolSpec(fn.name, description))
        else:
            specs.append(ToolSpec(fn.name, description, cast(JsonObject, fn.parameters)))
    return tuple(specs)
