"""Anthropic Messages API streams: SSE events → hearth events, and back for the server.

A stream is ``message_start``, then per content block ``content_block_start``, any number of
``content_block_delta`` and ``content_block_stop``, then ``message_delta`` (stop reason, final
usage) and ``message_stop``; ``ping`` may appear anywhere and ``error`` ends the stream.

Decoding (tolerant of unknown events, block and delta types):

* ``text_delta`` → :class:`TextDelta`; ``thinking_delta`` → :class:`ThinkingDelta`;
  ``signature_delta`` → ``ThinkingDelta("", signature=…)``; a ``redacted_thinking`` block →
  ``ThinkingDelta("", signature=data, redacted=True)``.
* ``input_json_delta`` pieces are joined and emitted as one :class:`ToolCallEvent` at the block's
  ``content_block_stop``; arguments that parse as an object are re-serialised in the compact form
  non-streamed responses give (so streaming and not give the same ``ToolCallPart``), others are
  kept as sent (e.g. cut short by ``max_tokens``); no input at all → ``"{}"``.
* :class:`Done` at ``message_stop``, with the input usage of ``message_start`` and the output
  (and any updated input) usage of ``message_delta``.
* ``event: error`` raises the mapped error (``overloaded_error`` → ServerError);
  :meth:`StreamDecoder.finish` raises ProviderError if ``message_stop`` never came.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from hearth.errors import HearthError, ProviderError
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent, Usage
from hearth.messages import JsonObject, JsonValue, ToolCallPart
from hearth.wire.anthropic.blocks import (
    PROVIDER,
    dump_input,
    stop_reason_from_wire,
    stop_reason_to_wire,
    usage_from_wire,
    usage_to_wire,
)
from hearth.wire.anthropic.errors import error_from_event, error_to_wire
from hearth.wire.base import WireChunk


@dataclass(slots=True)
class _ToolBlock:
    id: str
    name: str
    start_input: JsonValue
    pieces: list[str] = field(default_factory=list)

    def arguments(self) -> str:
        raw = "".join(self.pieces)
        if not raw.strip():
            start = self.start_input
            return dump_input(start) if isinstance(start, dict) and start else "{}"
        try:
            parsed = json.loads(raw)
        except ValueError:
            return raw
        return dump_input(parsed) if isinstance(parsed, dict) else raw


def _str(value: JsonValue) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: JsonValue) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _index(data: JsonObject) -> int:
    index = data.get("index")
    return index if isinstance(index, int) else -1


class StreamDecoder:
    """Anthropic SSE events (parsed JSON data plus the ``event:`` name) → hearth events."""

    def __init__(self) -> None:
        self._tools: dict[int, _ToolBlock] = {}
        self._usage: JsonObject = {}
        self._stop_reason: JsonValue = None
        self._stop_sequence: str | None = None
        self._model: str | None = None
        self._id: str | None = None
        self._done = False

    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]:
        kind = data.get("type")
        handler = _DECODERS.get(kind if isinstance(kind, str) else event or "")
        if handler is None or self._done:
            return []
        return handler(self, data)

    def finish(self) -> list[StreamEvent]:
        if not self._done:
            raise ProviderError(
                "anthropic stream ended before message_stop; the response is incomplete",
                provider=PROVIDER,
            )
        return []

    def _message_start(self, data: JsonObject) -> list[StreamEvent]:
        message = _obj(data.get("message"))
        self._model = _str(message.get("model")) or None
        self._id = _str(message.get("id")) or None
        self._merge_usage(message.get("usage"))
        return []

    def _block_start(self, data: JsonObject) -> list[StreamEvent]:
        block = _obj(data.get("content_block"))
        kind = block.get("type")
        if kind == "tool_use":
            tool = _ToolBlock(_str(block.get("id")), _str(block.get("name")), block.get("input"))
            self._tools[_index(data)] = tool
            return []
        if kind == "text":
            text = _str(block.get("text"))
            return [TextDelta(text)] if text else []
        if kind == "redacted_thinking":
            return [ThinkingDelta("", signature=_str(block.get("data")), redacted=True)]
        if kind == "thinking":
            thinking, signature = _str(block.get("thinking")), _str(block.get("signature"))
            events: list[StreamEvent] = [ThinkingDelta(thinking)] if thinking else []
            return events + ([ThinkingDelta("", signature=signature)] if signature else [])
        return []

    def _block_delta(self, data: JsonObject) -> list[StreamEvent]:
        delta = _obj(data.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta":
            text = _str(delta.get("text"))
            return [TextDelta(text)] if text else []
        if kind == "thinking_delta":
            thinking = _str(delta.get("thinking"))
            return [ThinkingDelta(thinking)] if thinking else []
        if kind == "signature_delta":
            signature = _str(delta.get("signature"))
            return [ThinkingDelta("", signature=signature)] if signature else []
        if kind == "input_json_delta":
            tool = self._tools.get(_index(data))
            if tool is not None:
                tool.pieces.append(_str(delta.get("partial_json")))
        return []

    def _block_stop(self, data: JsonObject) -> list[StreamEvent]:
        tool = self._tools.pop(_index(data), None)
        if tool is None:
            return []
        return [ToolCallEvent(ToolCallPart(tool.id, tool.name, tool.arguments()))]

    def _message_delta(self, data: JsonObject) -> list[StreamEvent]:
        delta = _obj(data.get("delta"))
        if delta.get("stop_reason") is not None:
            self._stop_reason = delta.get("stop_reason")
        if isinstance(delta.get("stop_sequence"), str):
            self._stop_sequence = _str(delta.get("stop_sequence"))
        self._merge_usage(data.get("usage"))
        return []

    def _message_stop(self, data: JsonObject) -> list[StreamEvent]:
        self._done = True
        unclosed: list[StreamEvent] = [  # a tool_use block whose content_block_stop never came
            ToolCallEvent(ToolCallPart(t.id, t.name, t.arguments())) for t in self._tools.values()
        ]
        self._tools.clear()
        done = Done(
            stop_reason_from_wire(self._stop_reason),
            usage_from_wire(self._usage),
            stop_sequence=self._stop_sequence,
            model=self._model,
            response_id=self._id,
        )
        return [*unclosed, done]

    def _error(self, data: JsonObject) -> list[StreamEvent]:
        raise error_from_event(data)

    def _merge_usage(self, usage: JsonValue) -> None:
        for key, value in _obj(usage).items():
            if value is not None:
                self._usage[key] = value


_DECODERS: dict[str, Callable[[StreamDecoder, JsonObject], list[StreamEvent]]] = {
    "message_start": StreamDecoder._message_start,
    "content_block_start": StreamDecoder._block_start,
    "content_block_delta": StreamDecoder._block_delta,
    "content_block_stop": StreamDecoder._block_stop,
    "message_delta": StreamDecoder._message_delta,
    "message_stop": StreamDecoder._message_stop,
    "error": StreamDecoder._error,
}


class StreamEncoder:
    """Hearth events → Anthropic SSE events, for the server.

    :meth:`start` gives ``message_start`` (``encode`` sends it first if it was not called;
    ``input_tokens`` / ``cached_tokens`` go in its usage when known up front).
    Consecutive text deltas share one text block; consecutive thinking deltas share one thinking
    block until its signature (a ``signature_delta``) closes it; a redacted delta is a whole
    ``redacted_thinking`` block; each tool call is a ``tool_use`` block with one
    ``input_json_delta``; :class:`Done` closes the open block and sends ``message_delta`` and
    ``message_stop``.
    """

    def __init__(
        self, *, model: str, response_id: str, input_tokens: int = 0, cached_tokens: int = 0
    ) -> None:
        self._model = model
        self._response_id = response_id
        self._input_tokens = input_tokens
        self._cached_tokens = cached_tokens
        self._index = 0
        self._open: str | None = None
        self._signed = False
        self._started = False
        self._finished = False

    def start(self) -> list[WireChunk]:
        """``message_start``; nothing once sent (:meth:`encode` sends it if needed)."""
        if self._started:
            return []
        self._started = True
        usage = usage_to_wire(Usage(self._input_tokens, cached_tokens=self._cached_tokens))
        message: JsonObject = {
            "id": self._response_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [WireChunk("message_start", {"type": "message_start", "message": message})]

    def encode(self, event: StreamEvent) -> list[WireChunk]:
        if self._finished:
            raise RuntimeError(f"stream event after Done: {event!r}")
        chunks = self.start()
        if isinstance(event, TextDelta):
            chunks += self._text(event)
        elif isinstance(event, ThinkingDelta):
            chunks += self._thinking(event)
        elif isinstance(event, ToolCallEvent):
            chunks += self._tool_call(event.call)
        elif isinstance(event, Done):  # a model's image (ImageEvent) has no Anthropic form
            chunks += self._done(event)
        return chunks

    def error(self, exc: HearthError) -> list[WireChunk]:
        """An ``event: error`` frame for a failure after the stream started."""
        self._finished = True
        return [WireChunk("error", error_to_wire(exc)[1])]

    def _open_block(self, kind: str, block: JsonObject) -> list[WireChunk]:
        chunks = self._close()
        self._open, self._signed = kind, False
        start: JsonObject = {
            "type": "content_block_start",
            "index": self._index,
            "content_block": block,
        }
        return [*chunks, WireChunk("content_block_start", start)]

    def _close(self) -> list[WireChunk]:
        if self._open is None:
            return []
        stop: JsonObject = {"type": "content_block_stop", "index": self._index}
        self._open = None
        self._index += 1
        return [WireChunk("content_block_stop", stop)]

    def _delta(self, delta: JsonObject) -> WireChunk:
        body: JsonObject = {"type": "content_block_delta", "index": self._index, "delta": delta}
        return WireChunk("content_block_delta", body)

    def _text(self, event: TextDelta) -> list[WireChunk]:
        chunks = (
            [] if self._open == "text" else self._open_block("text", {"type": "text", "text": ""})
        )
        if event.text:
            chunks.append(self._delta({"type": "text_delta", "text": event.text}))
        return chunks

    def _thinking(self, event: ThinkingDelta) -> list[WireChunk]:
        if event.redacted:
            block: JsonObject = {"type": "redacted_thinking", "data": event.signature or ""}
            return [*self._open_block("redacted_thinking", block), *self._close()]
        if not event.text and event.signature is None:
            return []
        chunks: list[WireChunk] = []
        if self._open != "thinking" or self._signed:
            block = {"type": "thinking", "thinking": "", "signature": ""}
            chunks += self._open_block("thinking", block)
        if event.text:
            chunks.append(self._delta({"type": "thinking_delta", "thinking": event.text}))
        if event.signature is not None:
            chunks.append(self._delta({"type": "signature_delta", "signature": event.signature}))
            self._signed = True
        return chunks

    def _tool_call(self, call: ToolCallPart) -> list[WireChunk]:
        block: JsonObject = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        chunks = self._open_block("tool_use", block)
        arguments = call.arguments if call.arguments.strip() else "{}"
        chunks.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return chunks + self._close()

    def _done(self, done: Done) -> list[WireChunk]:
        self._finished = True
        delta: JsonObject = {
            "stop_reason": stop_reason_to_wire(done.stop_reason),
            "stop_sequence": done.stop_sequence,
        }
        message_delta: JsonObject = {
            "type": "message_delta",
            "delta": delta,
            "usage": usage_to_wire(done.usage),  # cumulative, as Anthropic now sends it
        }
        return [
            *self._close(),
            WireChunk("message_delta", message_delta),
            WireChunk("message_stop", {"type": "message_stop"}),
        ]
