"""Gemini ``streamGenerateContent?alt=sse`` streams → hearth events, and back for the server.

Each SSE event's data is a whole ``GenerateContentResponse`` holding the next slice of parts of
``candidates[0]``; the chunk with ``finishReason`` usually carries the final ``usageMetadata``.

Decoding (:class:`StreamDecoder`, tolerant of unknown fields, part kinds and finish reasons):

* a text part → :class:`TextDelta`; a ``thought: true`` part → :class:`ThinkingDelta`;
* a part's ``thoughtSignature`` → a delta of the same kind with ``text == ""`` and the
  signature, right after the part's text. The accumulator closes the part on a signature, so the
  signature ends up on the Text/ThinkingPart that held it and re-encodes where Gemini put it.
  An explicit ``"thought": false`` stamp travels in the delta's ``meta`` to the TextPart, as in
  non-streamed answers, and is written back.
* an ``inlineData`` image (image models answer with them) → :class:`ImageEvent`.
* a ``functionCall`` part → :class:`ToolCallEvent` at once (Gemini never splits a call); a call
  without an ``id`` gets ``call_<n>``, n counting the stream's calls.
* :class:`Done` comes from :meth:`StreamDecoder.finish`, at the end of the byte stream, with the
  ``finishReason`` as ``stop_detail`` and the last ``usageMetadata`` seen (Gemini repeats
  usage on later chunks, so the last one is final).
  A stream that ended without a ``finishReason`` (or a prompt block) raises ProviderError.
* an ``{"error": …}`` body mid-stream raises the mapped error.

Encoding (:class:`StreamEncoder`): one chunk per delta or call, then a last chunk with
``finishReason`` and ``usageMetadata``. Redacted thinking has no Gemini form and is left out.
"""

from __future__ import annotations

from hearth.errors import HearthError, ProviderError
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
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from hearth.wire.base import WireChunk
from hearth.wire.gemini import logprobs as gemini_logprobs
from hearth.wire.gemini import shapes
from hearth.wire.gemini.errors import error_from_wire, error_to_wire
from hearth.wire.gemini.parts import (
    PartDecoder,
    call_to_wire,
    decode_parts,
    finish_reason_from_wire,
    finish_reason_to_wire,
    image_to_wire,
    text_to_wire,
    usage_from_wire,
    usage_to_wire,
)


class StreamDecoder:
    """Gemini stream chunks → hearth events; see the module docstring."""

    def __init__(self) -> None:
        self._parts = PartDecoder(strict=False)
        self._finish_reason: str | None = None
        self._blocked: str | None = None
        self._has_calls = False
        self._usage = Usage()
        self._model: str | None = None
        self._response_id: str | None = None
        self._closed = False

    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]:
        """The events in one chunk (``event``, the SSE event name, is unused by Gemini)."""
        if self._closed:
            raise RuntimeError("StreamDecoder.feed() after finish()")
        if "error" in data:
            raise error_from_wire(0, data, {})
        chunk = shapes.parse(shapes.Response, data, inbound="response")
        self._model = chunk.model_version or self._model
        self._response_id = chunk.response_id or self._response_id
        if chunk.usage_metadata is not None:
            self._usage = usage_from_wire(chunk.usage_metadata)
        if not chunk.candidates:
            feedback = chunk.prompt_feedback
            self._blocked = self._blocked or (feedback.block_reason if feedback else None)
            return []
        candidate = chunk.candidates[0]
        events: list[StreamEvent] = []
        if candidate.content is not None:
            path = "candidates[0].content.parts"
            for part in decode_parts(self._parts, candidate.content.parts, side="model", path=path):
                events.extend(self._events(part))
        logprobs = gemini_logprobs.from_wire(candidate.logprobs_result)
        if logprobs:
            events.append(TextDelta("", logprobs=logprobs))
        if candidate.finish_reason:
            self._finish_reason = candidate.finish_reason
        return events

    def finish(self) -> list[StreamEvent]:
        """The closing :class:`Done`; raises ProviderError if the stream was cut short."""
        if self._closed:
            raise RuntimeError("StreamDecoder.finish() was already called")
        self._closed = True
        if self._finish_reason is None and not self._blocked:
            raise ProviderError(
                f"{shapes.PROVIDER} stream ended before its finish reason: the connection was "
                "cut or the server stopped early; the answer is incomplete",
                provider=shapes.PROVIDER,
            )
        stop: StopReason = "content_filter"
        if self._finish_reason is not None:
            stop = finish_reason_from_wire(self._finish_reason, has_calls=self._has_calls)
        detail = self._finish_reason or self._blocked
        done = Done(stop, self._usage, model=self._model, response_id=self._response_id,
                    stop_detail=detail)  # fmt: skip
        return [done]

    def _events(self, part: Part) -> list[StreamEvent]:
        if isinstance(part, ToolCallPart):
            self._has_calls = True
            return [ToolCallEvent(part)]
        if isinstance(part, ImagePart):
            return [ImageEvent(part)]
        events: list[StreamEvent] = []
        if isinstance(part, ThinkingPart):
            if part.text:
                events.append(ThinkingDelta(part.text))
            if part.signature is not None:
                events.append(ThinkingDelta("", signature=part.signature))
        elif isinstance(part, TextPart):
            if part.text:
                events.append(TextDelta(part.text, meta=part.meta))
            if part.signature is not None:
                events.append(TextDelta("", signature=part.signature, meta=part.meta))
        return events


class StreamEncoder:
    """Hearth events → Gemini stream chunks (SSE ``data:`` only, no event names)."""

    def __init__(self, *, model: str, response_id: str) -> None:
        self._model = model
        self._response_id = response_id
        self._finished = False

    def start(self) -> list[WireChunk]:
        """Gemini streams have no opening frame."""
        return []

    def encode(self, event: StreamEvent) -> list[WireChunk]:
        if self._finished:
            raise RuntimeError(f"stream event after Done: {event!r}")
        if isinstance(event, Done):
            self._finished = True
            ends: list[JsonValue] = [
                {"finishReason": finish_reason_to_wire(end.stop_reason, end.stop_detail),
                 "index": i}
                for i, end in enumerate(event.choices or (event,))
            ]  # fmt: skip
            return [self._chunk(ends, usage_to_wire(event.usage))]
        part = _part(event)
        if part is None:
            return []
        content: JsonObject = {"parts": [part], "role": "model"}
        index = event.choice if isinstance(event, TextDelta) else 0
        candidate: JsonObject = {"content": content, "index": index}
        if isinstance(event, TextDelta) and event.logprobs:
            candidate["logprobsResult"] = gemini_logprobs.to_wire(event.logprobs)
        return [self._chunk([candidate], None)]

    def error(self, exc: HearthError) -> list[WireChunk]:
        """An error body for a failure after the stream started."""
        self._finished = True
        return [WireChunk(None, error_to_wire(exc)[1])]

    def _chunk(self, candidates: list[JsonValue], usage: JsonObject | None) -> WireChunk:
        data: JsonObject = {"candidates": candidates}
        if usage is not None:
            data["usageMetadata"] = usage
        data["modelVersion"] = self._model
        data["responseId"] = self._response_id
        return WireChunk(None, data)


def _part(event: TextDelta | ThinkingDelta | ToolCallEvent | ImageEvent) -> JsonObject | None:
    if isinstance(event, ToolCallEvent):
        return call_to_wire(event.call)
    if isinstance(event, ImageEvent):
        return image_to_wire(event.image)
    if isinstance(event, ThinkingDelta) and event.redacted:
        return None
    if not event.text and event.signature is None:
        return None
    if isinstance(event, TextDelta):
        return text_to_wire(TextPart(event.text, event.signature, event.meta))
    part: JsonObject = {"text": event.text, "thought": True}
    if event.signature is not None:
        part["thoughtSignature"] = event.signature
    return part
