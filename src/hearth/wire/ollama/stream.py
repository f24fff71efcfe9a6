"""Answers in Ollama's shape, for ``hearth serve``: ``/api/chat`` and ``/api/generate``, whole
and as NDJSON lines. Pure: no I/O (the clock is a parameter).

A streamed answer is one line per piece (``"done": false``) and a final line (``"done": true``)
with ``done_reason`` (``"length"`` when the answer was cut off at ``num_predict``, else
``"stop"``, tool calls included, as Ollama says), the token counts and the durations in
nanoseconds: ``total_duration`` (from the encoder's creation, i.e. the request, to the end),
``load_duration`` (0: served models are loaded before requests come), ``prompt_eval_duration``
(until the first piece) and ``eval_duration`` (from the first piece to the end). A whole answer
carries ``total_duration`` and ``load_duration`` only when the caller measured them.

Each streamed tool call is one line whose ``tool_calls`` holds that call, with
``function.index`` its position in the answer (0, 1, …): never the index another server gave
it, so two parallel calls always carry distinct indexes. Ollama has no opening frame; an
error after the stream started is the line ``{"error": "…", "status": n}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from hearth.errors import HearthError
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent
from hearth.logprobs import TokenLogprob
from hearth.messages import JsonObject, ThinkingPart
from hearth.response import Response
from hearth.wire.base import WireChunk
from hearth.wire.ollama.chat import assistant_to_wire, tool_call_to_wire
from hearth.wire.ollama.errors import error_to_wire
from hearth.wire.openai.logprobs import chat_logprobs_to_wire

Clock = Callable[[], int]
"""Nanoseconds from an arbitrary origin (``time.perf_counter_ns``)."""


def timestamp(created_at: str | None = None) -> str:
    """``created_at``, or now in ISO 8601 (UTC, ``Z``)."""
    if created_at is not None:
        return created_at
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Stamps:
    """``created_at`` for each line of one stream: :func:`timestamp`'s format, with the date
    and time of day formatted once per second (formatting a datetime per line would cost
    more than the rest of the line)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        ns = time.time_ns()
        second, micro = divmod(ns // 1000, 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{micro:06d}Z"


def _with_logprobs(body: JsonObject, entries: tuple[TokenLogprob, ...]) -> JsonObject:
    """``body`` with Ollama's ``logprobs`` (the tokens' entries, OpenAI's chat shape), when
    there are any."""
    if entries:
        content = chat_logprobs_to_wire(entries)["content"]
        body["logprobs"] = content
    return body


def _done_fields(done: Done | Response) -> JsonObject:
    return {
        "done": True,
        "done_reason": "length" if done.stop_reason == "max_tokens" else "stop",
        "prompt_eval_count": done.usage.input_tokens,
        "eval_count": done.usage.output_tokens,
    }


def response_to_wire(
    response: Response,
    *,
    model: str,
    response_id: str,
    created_at: str | None = None,
    total_duration: int | None = None,
) -> JsonObject:
    """A non-streamed /api/chat answer. Ollama has no response id: ``response_id`` is unused.
    ``created_at`` defaults to now; ``total_duration`` (ns) is sent when given."""
    body: JsonObject = {
        "model": model,
        "created_at": timestamp(created_at),
        "message": assistant_to_wire(response.message, wire_index=False),
        **_done_fields(response),
    }
    return _with_total(_with_logprobs(body, response.logprobs), total_duration)


def generate_response_to_wire(
    response: Response,
    *,
    model: str,
    created_at: str | None = None,
    total_duration: int | None = None,
) -> JsonObject:
    """A non-streamed /api/generate answer: the text in ``response`` (and ``thinking``)."""
    body: JsonObject = {"model": model, "created_at": timestamp(created_at)}
    body["response"] = response.text
    thinking = "".join(p.text for p in response.message.parts if isinstance(p, ThinkingPart))
    if thinking:
        body["thinking"] = thinking
    body = _with_logprobs({**body, **_done_fields(response)}, response.logprobs)
    return _with_total(body, total_duration)


def _with_total(body: JsonObject, total_duration: int | None) -> JsonObject:
    if total_duration is not None:
        body["total_duration"] = total_duration
        body["load_duration"] = 0
    return body


class StreamEncoder:
    """Stream events → /api/chat's NDJSON lines (``WireChunk(None, line)``).

    ``created_at`` defaults to the time each line is made; ``clock`` (ns) times the answer.
    """

    def __init__(
        self,
        *,
        model: str,
        response_id: str,
        created_at: str | None = None,
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        self._model = model
        self._created_at = created_at
        self._stamps = _Stamps()
        self._clock = clock
        self._started = clock()
        self._first: int | None = None
        self._calls = 0

    def start(self) -> list[WireChunk]:
        return []

    def encode(self, event: StreamEvent) -> list[WireChunk]:
        now = self._clock()
        if self._first is None:
            self._first = now
        if isinstance(event, Done):
            return [WireChunk(None, self._line(self._closing(), _done_fields(event), now))]
        piece = self._piece(event)
        if piece is None:
            return []
        created_at = self._created_at if self._created_at is not None else self._stamps.now()
        line: JsonObject = {"model": self._model, "created_at": created_at, **piece, "done": False}
        if isinstance(event, TextDelta):
            _with_logprobs(line, event.logprobs)
        return [WireChunk(None, line)]

    def error(self, exc: HearthError) -> list[WireChunk]:
        status, body = error_to_wire(exc)
        return [WireChunk(None, {"error": body["error"], "status": status})]

    def _line(self, content: JsonObject, tail: JsonObject, end: int) -> JsonObject:
        """The final line: ``content`` and ``tail`` (the counts), then the durations."""
        created_at = self._created_at if self._created_at is not None else self._stamps.now()
        first = self._first if self._first is not None else end
        return {
            "model": self._model, "created_at": created_at, **content, **tail,
            "total_duration": end - self._started, "load_duration": 0,
            "prompt_eval_duration": first - self._started, "eval_duration": end - first,
        }  # fmt: skip

    def _piece(self, event: StreamEvent) -> JsonObject | None:
        """The line's content for one piece of the answer; None for nothing to send (a bare
        signature: Ollama has none)."""
        if isinstance(event, TextDelta):
            if not event.text and not event.logprobs:
                return None
            return {"message": {"role": "assistant", "content": event.text}}
        message: JsonObject = {"role": "assistant", "content": ""}
        if isinstance(event, ToolCallEvent):
            message["tool_calls"] = [tool_call_to_wire(event.call, self._calls, wire_index=False)]
            self._calls += 1
        elif isinstance(event, ThinkingDelta) and event.text:
            message["thinking"] = event.text
        else:
            return None
        return {"message": message}

    def _closing(self) -> JsonObject:
        """The final line's content."""
        return {"message": {"role": "assistant", "content": ""}}


class GenerateStreamEncoder(StreamEncoder):
    """Stream events → /api/generate's NDJSON lines: ``response`` (and ``thinking``) pieces."""

    def _piece(self, event: StreamEvent) -> JsonObject | None:
        if isinstance(event, TextDelta) and event.logprobs:
            return {"response": event.text}
        if not isinstance(event, (TextDelta, ThinkingDelta)) or not event.text:
            return None  # /api/generate has no tools
        if isinstance(event, ThinkingDelta):
            return {"response": "", "thinking": event.text}
        return {"response": event.text}

    def _closing(self) -> JsonObject:
        return {"response": ""}
