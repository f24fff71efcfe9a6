"""Ollama's native ``/api/chat``: the mapping, and its outbound half (what a remote backend
sends and decodes). The inbound half, for ``hearth serve``, is :mod:`hearth.wire.ollama.inbound`
(request bodies) and :mod:`hearth.wire.ollama.stream` (answers and NDJSON lines); errors are
:mod:`hearth.wire.ollama.errors`. Pure: no I/O.

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
* **Settings** → ``options``: the settings table's Ollama column
  (:data:`hearth.settings.SETTINGS`), today temperature, top_p, top_k, min_p, repeat_penalty,
  presence_penalty, frequency_penalty, seed, stop, and ``max_tokens`` ↔ ``num_predict``
  (inbound, Ollama's -1 "unlimited" and -2 "fill the context" mean None; other values ≤ 0
  are refused). ``thinking_budget`` is dropped. Inbound, ``num_ctx`` is checked against the
  served model's window by the server, options that only tune loading (``num_gpu``,
  ``num_thread``…) are ignored, and sampling options hearth has no sampler for are refused
  unless they hold their neutral value (:mod:`hearth.wire.ollama.inbound`).
* **Tool choice**: Ollama has none. ``"none"`` leaves the tools out of the request; a tool's
  name sends that tool alone (the model may still answer in text); ``"required"`` is dropped.
* **Structured output**: ``response_format`` → ``format`` (the JSON schema, or ``"json"``).
* **Other request fields**: ``stream`` is always written (Ollama streams when it is absent,
  so inbound absence means True). Inbound, ``format`` (``"json"`` or a schema) becomes
  ``response_format``; ``keep_alive`` is read and checked but changes nothing (the server keeps
  its models loaded); unknown fields are ignored.
* **Responses**: ``done_reason`` ``"length"`` → ``max_tokens``; anything else → ``tool_use``
  when the message holds tool calls, else ``end_turn`` (Ollama reports a stop sequence as
  ``"stop"`` too). Usage: ``prompt_eval_count`` → input, ``eval_count`` → output; Ollama
  reports no cached or thinking tokens. Ollama has no response id.
* **Errors** are ``{"error": "…"}`` with the HTTP status; mid-stream they arrive as an NDJSON
  line ``{"error": "…", "status"?: n}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, create_model

from hearth.errors import ProviderError
from hearth.events import (
    Done,
    StopReason,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    Usage,
)
from hearth.logprobs import TokenLogprob
from hearth.messages import (
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
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.settings import GenerationSettings, wire_fields, wire_values
from hearth.wire.ollama.errors import PROVIDER, error_from_wire, error_line
from hearth.wire.ollama.output import ollama_format
from hearth.wire.openai.chat import function_tool
from hearth.wire.openai.logprobs import chat_logprobs_from_wire, refuse_prompt_logprobs

__all__ = ["PROVIDER", "StreamDecoder", "error_from_wire", "request_to_wire", "response_from_wire"]

META_SYNTHETIC_ID = "ollama_synthetic_id"
"""ToolCallPart meta: the id was made up by hearth; Ollama did not send one."""
META_INDEX = "ollama_index"
"""ToolCallPart meta: the wire ``function.index`` when it was absent (None) or not the default."""
META_MATCHED_CALL_ID = "ollama_matched_call_id"
"""ToolResultPart meta: ``call_id`` was matched by name/order; the wire had no tool_call_id."""

NUM_PREDICT = "num_predict"  # Ollama's max_tokens
STRICT = ConfigDict(extra="ignore", strict=True, frozen=True)
"""How inbound bodies are read: types exactly as documented, unknown fields ignored."""


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
    return {**body, **logprobs_to_wire(request.settings)}


def logprobs_to_wire(settings: GenerationSettings) -> JsonObject:
    """``logprobs`` / ``top_logprobs``: top-level fields of /api/chat and /api/generate."""
    refuse_prompt_logprobs(settings)
    out: JsonObject = {}
    if settings.wants_logprobs:
        out["logprobs"] = True
        if settings.top_logprobs:
            out["top_logprobs"] = settings.top_logprobs
    return out


def _messages_to_wire(messages: Sequence[Message]) -> list[JsonValue]:
    out: list[JsonValue] = []
    synthetic: set[str] = set()  # made-up call ids: never sent as tool_call_id
    names: dict[str, str] = {}  # call id → tool name, to fill in tool_name
    for m in messages:
        if m.role == "assistant":
            for call in m.tool_calls:
                names[call.id] = call.name
                if flag(call.meta, META_SYNTHETIC_ID):
                    synthetic.add(call.id)
            out.append(assistant_to_wire(m))
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


def assistant_to_wire(m: Message, *, wire_index: bool = True) -> JsonObject:
    """An assistant message. ``wire_index`` False numbers its tool calls by position, ignoring
    an index kept from another Ollama's answer (what the server sends its own clients)."""
    wire: JsonObject = {"role": "assistant", "content": m.text}
    thinking = "".join(p.text for p in m.parts if isinstance(p, ThinkingPart) and not p.redacted)
    if thinking:
        wire["thinking"] = thinking
    if m.tool_calls:
        wire["tool_calls"] = [
            tool_call_to_wire(c, i, wire_index=wire_index) for i, c in enumerate(m.tool_calls)
        ]
    return wire


def tool_call_to_wire(call: ToolCallPart, position: int, *, wire_index: bool = True) -> JsonObject:
    """One tool call. Its ``index`` is ``position``, or with ``wire_index`` the index it came
    with from Ollama (kept in its meta), so history re-encodes byte for byte."""
    meta = call.meta or {}
    function: JsonObject = {}
    index = meta.get(META_INDEX, position) if wire_index else position
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
    if result.call_id not in synthetic and not flag(result.meta, META_MATCHED_CALL_ID):
        wire["tool_call_id"] = result.call_id
    return wire


def options_to_wire(settings: GenerationSettings) -> JsonObject:
    """The ``options`` object (/api/chat and /api/generate) for ``settings``: each setting with
    an Ollama field in the settings table."""
    return {key: value for _, key, value in wire_values(settings, "ollama")}


def _option_fields() -> dict[str, Any]:
    """The ``options`` fields that carry settings (the settings table's Ollama column), typed
    as the settings are."""
    return {
        key: (list[str] | None if setting.kind is tuple else setting.kind | None, None)
        for setting, key in wire_fields("ollama")
    }


if TYPE_CHECKING:

    class WireOptions(BaseModel):
        """The ``options`` hearth maps to GenerationSettings (both directions), built from the
        settings table at run time (:func:`_option_fields`)."""

else:
    WireOptions = create_model("WireOptions", __config__=STRICT, **_option_fields())

OPTIONS: dict[str, str] = {setting.name: key for setting, key in wire_fields("ollama")}
"""GenerationSettings field → its ``options`` field (``max_tokens`` → ``num_predict``)."""


def text_parts(content: str | None) -> list[Part]:
    return [TextPart(content)] if content else []


# ---------------------------------------------------------------------------------------------
# Tool calls and responses, outbound decoding (tolerant)


def tool_call(
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
    return tool_call(
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
        raise error_line(body)
    thinking, content, raw_calls = _message_events(body.get("message"))
    parts: list[Part] = [ThinkingPart(thinking)] if thinking else []
    parts.extend(text_parts(content))
    calls = [c for k, raw in enumerate(raw_calls) if (c := _decode_call(raw, k, k)) is not None]
    parts.extend(calls)
    return Response(
        message=Message("assistant", tuple(parts)),
        stop_reason=_stop_reason(body.get("done_reason"), bool(calls)),
        usage=_usage(body),
        model=_model(body),
        logprobs=_logprobs(body),
    )


def _logprobs(body: JsonObject) -> tuple[TokenLogprob, ...]:
    """A line's ``logprobs`` (OpenAI chat's entries, as a list)."""
    return chat_logprobs_from_wire({"content": body.get("logprobs")})


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
            raise error_line(data)
        thinking, content, raw_calls = _message_events(data.get("message"))
        events: list[StreamEvent] = []
        if thinking:
            events.append(ThinkingDelta(thinking))
        logprobs = _logprobs(data)
        if content or logprobs:
            events.append(TextDelta(content, logprobs=logprobs))
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


def flag(meta: Meta, key: str) -> bool:
    return bool(meta and meta.get(key))
