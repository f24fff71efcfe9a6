"""Response: the accumulation of a stream of events, and the accumulator that builds it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
from hearth.messages import Message, Meta, Part, TextPart, ThinkingPart, ToolCallPart


@dataclass(frozen=True, slots=True)
class Response:
    """A finished answer: the assistant message, why it stopped and what it cost.

    ``parsed`` is the validated answer when the request had a ``response_format`` (a pydantic
    instance for a pydantic class, else the JSON value; see :mod:`hearth.output`), and None
    otherwise or when the model called tools instead of answering. ``stop_detail`` is the
    provider's own stop reason beside the normalised ``stop_reason``, where the format keeps it
    (Gemini's ``finishReason``, e.g. ``MALFORMED_FUNCTION_CALL`` for ``tool_error``).
    ``model`` names the model as the backend does (``local:smollm2``; a remote provider's
    reported version); ``model_name`` is the model's own name beside it, where it has one (a
    GGUF file's ``general.name``, e.g. ``SmolLM2 135M Instruct``)."""

    message: Message
    stop_reason: StopReason
    usage: Usage
    stop_sequence: str | None = None
    model: str | None = None
    response_id: str | None = None
    parsed: object = None
    stop_detail: str | None = None
    model_name: str | None = None

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def thinking(self) -> str:
        return self.message.thinking

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return self.message.tool_calls


class ResponseAccumulator:
    """Folds stream events into a :class:`Response`, one event at a time.

    Consecutive text deltas become one :class:`TextPart`, consecutive thinking deltas one
    :class:`ThinkingPart` (keeping the signature that arrives with them), each tool call a
    :class:`ToolCallPart` and each image an :class:`ImagePart`, all in the order the model
    produced them. A signature closes its part: the next delta of the same kind starts a new
    one; so does a text delta whose ``meta`` differs from the text before it (the part keeps
    its deltas' ``meta``).
    """

    def __init__(self) -> None:
        self._parts: list[Part] = []
        self._text: list[str] = []
        self._text_signature: str | None = None
        self._text_meta: Meta = None
        self._thinking: list[str] = []
        self._signature: str | None = None
        self._redacted = False
        self._thinking_meta: Meta = None
        self.done: Done | None = None

    def add(self, event: StreamEvent) -> None:
        if self.done is not None:
            raise RuntimeError("stream event after Done")
        if isinstance(event, TextDelta):
            self._flush_thinking()
            if self._text_signature is not None or event.meta != self._text_meta:
                self._flush_text()
            self._text.append(event.text)
            self._text_signature = event.signature
            self._text_meta = event.meta
        elif isinstance(event, ThinkingDelta):
            self._flush_text()
            if self._signature is not None:
                self._flush_thinking()
            self._thinking.append(event.text)
            self._signature = event.signature or self._signature
            self._redacted = self._redacted or event.redacted
            if event.meta:
                self._thinking_meta = {**(self._thinking_meta or {}), **event.meta}
        elif isinstance(event, ToolCallEvent | ImageEvent):
            self._flush_text()
            self._flush_thinking()
            self._parts.append(event.call if isinstance(event, ToolCallEvent) else event.image)
        else:
            self._flush_text()
            self._flush_thinking()
            self.done = event

    def message(self) -> Message:
        """The assistant message so far (the stream need not have ended): what a consumer
        keeps of an answer that broke off."""
        parts = list(self._parts)
        if self._thinking or self._signature is not None:
            parts.append(self._thinking_part())
        if self._text:
            parts.append(TextPart("".join(self._text), self._text_signature, self._text_meta))
        return Message("assistant", tuple(parts))

    @property
    def text(self) -> str:
        """The answer text so far."""
        done = "".join(p.text for p in self._parts if isinstance(p, TextPart))
        return done + "".join(self._text)

    def response(self) -> Response:
        """The Response; the stream must have ended with Done."""
        if self.done is None:
            raise RuntimeError("the stream has not finished; no Done event yet")
        done = self.done
        return Response(
            message=Message("assistant", tuple(self._parts)),
            stop_reason=done.stop_reason,
            usage=done.usage,
            stop_sequence=done.stop_sequence,
            model=done.model,
            response_id=done.response_id,
            stop_detail=done.stop_detail,
            model_name=done.model_name,
        )

    def _flush_text(self) -> None:
        if self._text:
            text = "".join(self._text)
            self._parts.append(TextPart(text, self._text_signature, self._text_meta))
            self._text.clear()
            self._text_signature = None
        self._text_meta = None

    def _flush_thinking(self) -> None:
        if self._thinking or self._signature is not None:
            self._parts.append(self._thinking_part())
            self._thinking.clear()
            self._signature = None
            self._redacted = False
            self._thinking_meta = None

    def _thinking_part(self) -> ThinkingPart:
        text = "".join(self._thinking)
        return ThinkingPart(text, self._signature, self._redacted, self._thinking_meta)


def accumulate(events: Iterable[StreamEvent]) -> Response:
    """Fold a whole stream into a Response."""
    acc = ResponseAccumulator()
    for event in events:
        acc.add(event)
    return acc.response()
