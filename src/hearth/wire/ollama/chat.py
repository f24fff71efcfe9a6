"""Ollama's native ``/api/chat``, both directions. Pure: no I/O.

What maps where (hearth ↔ Ollama):

* **Messages** keep their roles. Text parts join into ``content``; images go to ``images`` as
  raw base64. Ollama carries no media type, so inbound images are identified by their magic
  bytes (PNG, JPEG, GIF, WebP; anything else is an InvalidRequestError) and the outbound media
  type is dropped. Only user messages carry images (others: UnsupportedFeatureError). Inbound,
  a message's text comes before its images; empty ``content`` gives no TextPart.
* **Thinking**: assistant ``thinking`` ↔ ThinkingPart. Ollama has no signatures: signatures
  and redacted thinking are dropped outbound. ``think`` ↔ ``settings.thinking``; inbound levels
  (``"low"``, ``"medium"``, ``"high"``, ``"max"``) become ``thinking=True``.
* **Tool calls**: ``{"id"?, "function": {"index"?, "name", "arguments": {…}}}``. Ollama may
  omit the id: hearth then makes up ``call_<n>`` (n is the call's position among all tool
  calls of the request, response or stream, from 0) and marks the part's ``meta`` with
  ``ollama_synthetic_id`` so re-encoding omits it again. ``index`` is written as the call's
  position in its message (in its stream for the encoder); a wire index that is absent or
  differs is kept in ``meta["ollama_index"]`` so it re-encodes byte for byte.
* **Tool results**: each ToolResultPart is one ``tool`` message ``{content, tool_name,
  tool_call_id}``; consecutive ``tool`` messages merge into one hearth ``tool`` message.
  ``tool_name`` comes from ``ToolResultPart.name`` or, when that is None, from the matching
  call. ``tool_call_id`` is left out when it names a made-up id. Inbound, a result without
  ``tool_call_id`` answers the first call of the latest assistant message that is still
  unanswered and has the same ``tool_name`` (any name when ``tool_name`` is absent); no such
  call is an InvalidRequestError. When that call has a real id, the result's meta gets
  ``ollama_matched_call_id`` so re-encoding leaves ``tool_call_id`` out. ``is_error`` has no
  Ollama field and is dropped outbound.
* **Settings** → ``options``: temperature, top_p, top_k, min_p, repeat_penalty,
  presence_penalty, frequency_penalty, seed, stop, and ``max_tokens`` ↔ ``num_predict``
  (inbound, ``num_predict`` ≤ 0 — Ollama's -1 "unlimited" and -2 "fill the context" — means
  None). ``thinking_budget`` is dropped. Other inbound options (``num_ctx``…) are ignored.
* **Tool choice**: Ollama has none. ``"none"`` leaves the tools out of the request; a tool's
  name sends that tool alone (the model may still answer in text); ``"required"`` is dropped.
* **Structured output**: ``response_format`` → ``format`` (the JSON schema, or ``"json"``).
* **Other request fields**: ``stream`` is always written (Ollama streams when it is absent,
  so inbound absence means True). ``format`` (``"json"`` or a schema), ``keep_alive`` and
  unknown fields are accepted and ignored inbound.
* **Responses**: ``done_reason`` ``"length"`` → ``max_tokens``; anything else → ``tool_use``
  when the message holds tool calls, else ``end_turn`` (Ollama reports a stop sequence as
  ``"stop"`` too). Usage: ``prompt_eval_count`` → input, ``eval_count`` → output; Ollama
  reports no cached or thinking tokens. Ollama has no response id.
* **Errors** are ``{"error": "…"}`` with the HTTP status; mid-stream they arrive as an NDJSON
  line ``{"error": "…", "status"?: n}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from hearth import errors
from hearth.errors import HearthError, InvalidRequestError, ProviderError
from hearth.events import (
    Done,
    ImageEvent,
    StopReason,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    Usage,
)
from hearth.messages import (
    ImagePart,
    JsonObject,
    JsonValue,
    Message,
    Meta,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest, ToolSpec
from hearth.response import Response
from hearth.settings import GenerationSettings
from hearth.wire._headers import retry_after_seconds
from hearth.wire.base import WireChunk, WireRequest
from hearth.wire.ollama.output import ollama_format
from hearth.wire.openai.chat import function_tool

PROVIDER = "ollama"
META_SYNTHETIC_ID = "ollama_synthetic_id"
"""ToolCallPart meta: the id was made up by hearth; Ollama did not send one."""
META_INDEX = "ollama_index"
"""ToolCallPart meta: the wire ``function.index`` when it was absent (None) or not the default."""
META_MATCHED_CALL_ID = "ollama_matched_call_id"
"""ToolResultPart meta: ``call_id`` was matched by name/order; the wire had no tool_call_id."""

_THINK_LEVELS = ("low", "medium", "high", "max")
_NUM_PREDICT = "num_predict"  # Ollama's max_tokens
_DEFAULT_SETTINGS = GenerationSettings()


# ---------------------------------------------------------------------------------------------
# Requests, outbound


def request_to_wire(request: ChatRequest, *, model: str, stream: bool) -> JsonObject:
    """The /api/chat body for ``request``."""
    body: JsonObject = {
        "model": model,
        "messages": _messages_to_wire(request.messages),
        "stream": stream,
    }
    if request.tools and request.tool_choice != "none":
        named = request.tool_choice not in ("auto", "required")
        tools = [t for t in request.tools if not named or t.name == request.tool_choice]
        body["tools"] = [function_tool(t) for t in tools]
    if request.settings.thinking is not None:
        body["think"] = request.settings.thinking
    if request.response_format is not None:
        body["format"] = ollama_format(request.response_format)
    options = options_to_wire(request.settings)
    if options:
        body["options"] = options
    return body


def _messages_to_wire(messages: Sequence[Message]) -> list[JsonValue]:
    out: list[JsonValue] = []
    synthetic: set[str] = set()  # made-up call ids: never sent as tool_call_id
    names: dict[str, str] = {}  # call id → tool name, to fill in tool_name
    for m in messages:
        if m.role == "assistant":
            for call in m.tool_calls:
                names[call.id] = call.name
                if _flag(call.meta, META_SYNTHETIC_ID):
                    synthetic.add(call.id)
            out.append(_assistant_to_wire(m))
        elif m.role == "system":
            out.append({"role": "system", "content": m.text})
        else:
            out.extend(_tool_result_to_wire(r, synthetic, names) for r in m.tool_results)
            if m.role == "user" and (len(m.tool_results) < len(m.parts) or not m.parts):
                out.append(_user_to_wire(m))
    return out


def _user_to_wire(m: Message) -> JsonObject:
    wire: JsonObject = {"role": "user", "content": m.text}
    if m.images:
        wire["images"] = [base64.b64encode(p.data).decode("ascii") for p in m.images]
    return wire


def _assistant_to_wire(m: Message) -> JsonObject:
    wire: JsonObject = {"role": "assistant", "content": m.text}
    thinking = "".join(p.text for p in m.parts if isinstance(p, ThinkingPart) and not p.redacted)
    if thinking:
        wire["thinking"] = thinking
    if m.tool_calls:
        wire["tool_calls"] = [_tool_call_to_wire(c, i) for i, c in enumerate(m.tool_calls)]
    return wire


def _tool_call_to_wire(call: ToolCallPart, position: int) -> JsonObject:
    meta = call.meta or {}
    function: JsonObject = {}
    index = meta.get(META_INDEX, position)
    if index is not None:
        function["index"] = index
    function["name"] = call.name
    function["arguments"] = call.parsed_arguments()
    wire: JsonObject = {}
    if not meta.get(META_SYNTHETIC_ID):
        wire["id"] = call.id
    wire["function"] = function
    return wire


def _tool_result_to_wire(
    result: ToolResultPart, synthetic: set[str], names: Mapping[str, str]
) -> JsonObject:
    wire: JsonObject = {"role": "tool", "content": result.content}
    name = result.name if result.name is not None else names.get(result.call_id)
    if name is not None:
        wire["tool_name"] = name
    if result.call_id not in synthetic and not _flag(result.meta, META_MATCHED_CALL_ID):
        wire["tool_call_id"] = result.call_id
    return wire


def _wire_option(attr: str) -> str:
    return _NUM_PREDICT if attr == "max_tokens" else attr


def options_to_wire(settings: GenerationSettings) -> JsonObject:
    """The ``options`` object (/api/chat and /api/generate) for ``settings``."""
    options: JsonObject = {}
    for attr in _OPTIONS:
        value = getattr(settings, attr)
        if value is not None and value != ():
            options[_wire_option(attr)] = list(value) if attr == "stop" else value
    return options


# ---------------------------------------------------------------------------------------------
# Requests, inbound: pydantic describes the body; errors name the field.

_STRICT = ConfigDict(extra="ignore", strict=True, frozen=True)


class _WireFunctionCall(BaseModel):
    model_config = _STRICT
    name: str
    arguments: dict[str, Any] | None = None
    index: int | None = None


class _WireToolCall(BaseModel):
    model_config = _STRICT
    id: str | None = None
    function: _WireFunctionCall


class _WireMessage(BaseModel):
    model_config = _STRICT
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
    model_config = _STRICT
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class _WireTool(BaseModel):
    model_config = _STRICT
    type: Literal["function"] = "function"
    function: _WireToolFunction


class _WireOptions(BaseModel):
    model_config = _STRICT
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    num_predict: int | None = None
    stop: list[str] | None = None


# The GenerationSettings fields that go to ``options``: the same names, but num_predict.
_OPTIONS = tuple("max_tokens" if k == _NUM_PREDICT else k for k in _WireOptions.model_fields)


class _WireChatRequest(BaseModel):
    model_config = _STRICT
    model: str | None = None
    messages: list[_WireMessage]
    tools: list[_WireTool] | None = None
    think: Any = None  # bool or a level; checked by hand for a clear message
    format: Any = None  # "json" or a JSON schema; accepted, not mapped yet
    stream: bool | None = None
    options: _WireOptions | None = None


def request_from_wire(body: JsonObject, *, model: str | None = None) -> WireRequest:
    """An inbound /api/chat body as a ChatRequest. Raises InvalidRequestError naming the field."""
    try:
        wire = _WireChatRequest.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    name = wire.model or model
    if not name:
        raise InvalidRequestError("model: required; name the model to chat with")
    if not wire.messages:
        raise InvalidRequestError(
            "messages: at least one message is required (loading or unloading a model with an "
            "empty chat is not supported)"
        )
    if wire.format is not None and not isinstance(wire.format, str | dict):
        raise InvalidRequestError('format: must be "json" or a JSON schema object')
    request = ChatRequest(
        messages=_HistoryReader().read(wire.messages),
        settings=_settings_from_wire(wire),
        tools=_tools_from_wire(wire.tools or []),
    )
    stream = True if wire.stream is None else wire.stream  # Ollama streams unless told not to
    return WireRequest(model=name, request=request, stream=stream)


def _invalid(exc: ValidationError) -> InvalidRequestError:
    error = exc.errors()[0]
    where = ""
    for item in error["loc"]:
        if isinstance(item, int):
            where += f"[{item}]"
        else:
            where += f".{item}" if where else item
    return InvalidRequestError(f"{where or 'body'}: {error['msg']}")


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
                self._out.append(Message("system", tuple(_text(m.content))))
        self._flush()
        return tuple(self._out)

    def _flush(self) -> None:
        if self._results:
            self._out.append(Message("tool", tuple(self._results)))
            self._results = []

    def _assistant(self, m: _WireMessage) -> Message:
        parts: list[Part] = [ThinkingPart(m.thinking)] if m.thinking else []
        parts.extend(_text(m.content))
        self._open = []
        for position, call in enumerate(m.tool_calls or []):
            fn = call.function
            self._open.append(
                _tool_call(call.id, fn.name, fn.arguments or {}, fn.index, position, self._calls)
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
        meta = None if _flag(call.meta, META_SYNTHETIC_ID) else {META_MATCHED_CALL_ID: True}
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


def _text(content: str | None) -> list[Part]:
    return [TextPart(content)] if content else []


def _user_parts(i: int, m: _WireMessage) -> tuple[Part, ...]:
    parts = _text(m.content)
    for j, data in enumerate(m.images or []):
        parts.append(_image_from_wire(data, f"messages[{i}].images[{j}]"))
    return tuple(parts)


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image_type(data: bytes) -> str | None:
    """The media type of PNG, JPEG, GIF or WebP bytes, from their magic numbers; else None."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _image_from_wire(data: str, where: str) -> ImagePart:
    try:  # like Go's base64 decoder, ignore line breaks
        raw = base64.b64decode(data.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        hint = " (send raw base64, not a data: URL)" if data.startswith("data:") else ""
        raise InvalidRequestError(f"{where}: not valid base64{hint}") from None
    media_type = sniff_image_type(raw)
    if media_type is None:
        raise InvalidRequestError(f"{where}: not a PNG, JPEG, GIF or WebP image")
    return ImagePart(raw, media_type)


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


def _settings_from_wire(wire: _WireChatRequest) -> GenerationSettings:
    options = wire.options or _WireOptions()
    values: dict[str, Any] = {a: getattr(options, _wire_option(a)) for a in _OPTIONS}
    if values["max_tokens"] is not None and values["max_tokens"] <= 0:
        values["max_tokens"] = None  # -1 unlimited, -2 fill the context: hearth's default
    values["stop"] = tuple(values["stop"] or ())
    for attr in _OPTIONS:  # check one at a time so the message names the wire field
        try:
            replace(_DEFAULT_SETTINGS, **{attr: values[attr]})
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"options.{_wire_option(attr)}: {exc}") from None
    return replace(_DEFAULT_SETTINGS, **values, thinking=_think_from_wire(wire.think))


def _think_from_wire(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in _THINK_LEVELS:
        return True
    raise InvalidRequestError(
        f"think: must be true, false or one of {', '.join(_THINK_LEVELS)}; got {value!r}"
    )


# ---------------------------------------------------------------------------------------------
# Tool calls and responses, outbound decoding (tolerant)


def _tool_call(
    call_id: str | None, name: str, arguments: object, index: object, position: int, ordinal: int
) -> ToolCallPart:
    """A ToolCallPart from wire fields: ``arguments`` an object (or JSON text, kept as is),
    ``index`` None when absent, ``position`` the call's default index, ``ordinal`` its n."""
    meta: dict[str, JsonValue] = {}
    if not call_id:
        call_id = f"call_{ordinal}"
        meta[META_SYNTHETIC_ID] = True
    if index != position:
        meta[META_INDEX] = index if isinstance(index, int) and not isinstance(index, bool) else None
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    return ToolCallPart(call_id, name, arguments, meta=meta or None)


def _decode_call(raw: JsonValue, position: int, ordinal: int) -> ToolCallPart | None:
    """One response tool call; None when it is not recognisable (tolerated, skipped)."""
    if not isinstance(raw, dict):
        return None
    fn = raw.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        return None
    arguments = fn.get("arguments")
    call_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    args = arguments if isinstance(arguments, dict | str) else {}
    return _tool_call(
        cast(str | None, call_id), cast(str, fn["name"]), args, fn.get("index"), position, ordinal
    )


def _message_events(message: JsonValue) -> tuple[str, str, list[JsonValue]]:
    """(thinking, content, raw tool calls) of a wire message, tolerating missing fields."""
    if not isinstance(message, dict):
        return "", "", []
    thinking, content, calls = (message.get(k) for k in ("thinking", "content", "tool_calls"))
    return (
        thinking if isinstance(thinking, str) else "",
        content if isinstance(content, str) else "",
        calls if isinstance(calls, list) else [],
    )


def _stop_reason(done_reason: JsonValue, has_tool_calls: bool) -> StopReason:
    if done_reason == "length":
        return "max_tokens"
    return "tool_use" if has_tool_calls else "end_turn"


def _count(value: JsonValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _usage(body: JsonObject) -> Usage:
    return Usage(_count(body.get("prompt_eval_count")), _count(body.get("eval_count")))


def _model(body: JsonObject) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None


def response_from_wire(body: JsonObject) -> Response:
    """A non-streamed /api/chat answer as a Response; an ``{"error": …}`` body raises it."""
    if "error" in body:
        raise _error_line(body)
    thinking, content, raw_calls = _message_events(body.get("message"))
    parts: list[Part] = [ThinkingPart(thinking)] if thinking else []
    parts.extend(_text(content))
    calls = [c for k, raw in enumerate(raw_calls) if (c := _decode_call(raw, k, k)) is not None]
    parts.extend(calls)
    return Response(
        message=Message("assistant", tuple(parts)),
        stop_reason=_stop_reason(body.get("done_reason"), bool(calls)),
        usage=_usage(body),
        model=_model(body),
    )


class StreamDecoder:
    """NDJSON lines of a streamed /api/chat answer → stream events.

    Each ``done: false`` line yields its thinking, text and (complete) tool calls; the
    ``done: true`` line yields Done with the usage. Lines after it are ignored.
    """

    def __init__(self) -> None:
        self._calls = 0
        self._done = False

    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]:
        if self._done:
            return []
        if "error" in data:
            raise _error_line(data)
        thinking, content, raw_calls = _message_events(data.get("message"))
        events: list[StreamEvent] = []
        if thinking:
            events.append(ThinkingDelta(thinking))
        if content:
            events.append(TextDelta(content))
        for raw in raw_calls:
            call = _decode_call(raw, self._calls, self._calls)
            if call is not None:
                self._calls += 1
                events.append(ToolCallEvent(call))
        if data.get("done") is True:
            self._done = True
            stop = _stop_reason(data.get("done_reason"), self._calls > 0)
            events.append(Done(stop, _usage(data), model=_model(data)))
        return events

    def finish(self) -> list[StreamEvent]:
        if not self._done:
            raise ProviderError(
                "ollama: stream ended before done (no line with done: true); the server or "
                "the connection stopped mid-answer",
                provider=PROVIDER,
            )
        return []


# ---------------------------------------------------------------------------------------------
# Responses, inbound (for the server)


def _timestamp(created_at: str | None) -> str:
    if created_at is not None:
        return created_at
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _final(model: str, created_at: str, message: JsonObject, done: Done | Response) -> JsonObject:
    return {
        "model": model,
        "created_at": created_at,
        "message": message,
        "done": True,
        "done_reason": "length" if done.stop_reason == "max_tokens" else "stop",
        "prompt_eval_count": done.usage.input_tokens,
        "eval_count": done.usage.output_tokens,
    }


def response_to_wire(
    response: Response, *, model: str, response_id: str, created_at: str | None = None
) -> JsonObject:
    """A non-streamed /api/chat answer. Ollama has no response id: ``response_id`` is unused.
    ``created_at`` defaults to now (ISO 8601, UTC)."""
    message = _assistant_to_wire(response.message)
    return _final(model, _timestamp(created_at), message, response)


class StreamEncoder:
    """Stream events → NDJSON objects in /api/chat's streamed shape (``WireChunk(None, obj)``).

    Ollama has no opening frame (``start()`` returns nothing); ``error(exc)`` gives its
    mid-stream error line. ``created_at`` defaults to the time each line is made.
    """

    def __init__(self, *, model: str, response_id: str, created_at: str | None = None) -> None:
        self._model = model
        self._created_at = created_at
        self._calls = 0

    def start(self) -> list[WireChunk]:
        return []

    def encode(self, event: StreamEvent) -> list[WireChunk]:
        message: JsonObject = {"role": "assistant", "content": ""}
        if isinstance(event, Done):
            final = _final(self._model, _timestamp(self._created_at), message, event)
            return [WireChunk(None, final)]
        if isinstance(event, TextDelta | ThinkingDelta) and not event.text:
            return []  # a bare signature: Ollama has none
        if isinstance(event, TextDelta):
            message["content"] = event.text
        elif isinstance(event, ThinkingDelta):
            message["thinking"] = event.text
        elif isinstance(event, ImageEvent):
            return []  # a model's image has no place in an Ollama answer
        else:
            message["tool_calls"] = [_tool_call_to_wire(event.call, self._calls)]
            self._calls += 1
        line: JsonObject = {
            "model": self._model,
            "created_at": _timestamp(self._created_at),
            "message": message,
            "done": False,
        }
        return [WireChunk(None, line)]

    def error(self, exc: HearthError) -> list[WireChunk]:
        status, body = error_to_wire(exc)
        return [WireChunk(None, {"error": body["error"], "status": status})]


# ---------------------------------------------------------------------------------------------
# Errors

_MODEL_NOT_FOUND = re.compile(r"model ['\"]([^'\"]+)['\"] not found")
_CONTEXT = re.compile(r"context (?:length|window|size)", re.IGNORECASE)
_TOO_LONG = re.compile(r"exceed|longer than|too long|but the context window holds", re.IGNORECASE)
_UNSUPPORTED = re.compile(r"does not support|only supports", re.IGNORECASE)
_TOKEN_COUNTS = re.compile(r"(\d+)\s*tokens?\D+?(\d+)")


def _error_message(body: JsonObject | str) -> str:
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body.strip() or "(empty body)"
        if not isinstance(parsed, dict):
            return body.strip()
        body = parsed
    error = body.get("error")
    if isinstance(error, dict):  # an OpenAI-style proxy in front of Ollama
        error = error.get("message")
    return error if isinstance(error, str) else json.dumps(body, ensure_ascii=False)


def error_from_wire(status: int, body: JsonObject | str, headers: Mapping[str, str]) -> HearthError:
    """Ollama's ``{"error": "…"}`` with its HTTP status → hearth's error, in one place."""
    message = _error_message(body)
    text = f"ollama: HTTP {status}: {message}"
    if status == 404:
        found = _MODEL_NOT_FOUND.search(message)
        name = found.group(1) if found else ""
        todo = f"run `ollama pull {name}`" if name else "check the model name and the base URL"
        return errors.ModelNotFoundError(f"{text}; {todo} on the Ollama server", model=name)
    if status in (401, 403, 429):
        limited = status == 429
        cls: type[ProviderError] = errors.RateLimitError if limited else errors.AuthenticationError
        retry_after = retry_after_seconds(headers) if limited else None
        return cls(text, status_code=status, provider=PROVIDER, retry_after=retry_after)
    if _CONTEXT.search(message) and _TOO_LONG.search(message):
        counts = _TOKEN_COUNTS.search(message)
        prompt, context = (int(counts[1]), int(counts[2])) if counts else (None, None)
        return errors.ContextLengthExceededError(prompt, context, detail=f"({text})")
    if status in (400, 422):
        unsupported = _UNSUPPORTED.search(message)  # e.g. '"llama3.2" does not support tools'
        return errors.UnsupportedFeatureError(text) if unsupported else InvalidRequestError(text)
    cls = errors.ServerError if status >= 500 else ProviderError
    return cls(text, status_code=status, provider=PROVIDER)


def _error_line(data: JsonObject) -> HearthError:
    """The error an ``{"error": …, "status"?: n}`` line stands for (500 when it has no status)."""
    status = data.get("status")
    code = status if isinstance(status, int) and not isinstance(status, bool) else 500
    return error_from_wire(code, data, {})


_ERROR_STATUS: tuple[tuple[type[HearthError], int], ...] = (
    (InvalidRequestError, 400),
    (errors.ConfigurationError, 404),
    (errors.ModelUnavailableError, 404),
    (errors.AuthenticationError, 401),
    (errors.RateLimitError, 429),
    (errors.OverloadedError, 503),
    (errors.APITimeoutError, 504),
    (errors.RequestTimeoutError, 504),
    (errors.ServerError, 500),
    (ProviderError, 502),
)


def error_to_wire(exc: HearthError) -> tuple[int, JsonObject]:
    """The HTTP status and ``{"error": message}`` Ollama would send for ``exc``."""
    status = next((code for cls, code in _ERROR_STATUS if isinstance(exc, cls)), 500)
    if isinstance(exc, ProviderError) and exc.status_code and 400 <= exc.status_code <= 599:
        status = exc.status_code
    message = str(exc)
    if isinstance(exc, errors.ModelNotFoundError):  # Ollama's own words, so clients recognise it
        message = f"model '{exc.model}' not found, try pulling it first ({exc})"
    return status, {"error": message}


def _flag(meta: Meta, key: str) -> bool:
    return bool(meta and meta.get(key))
