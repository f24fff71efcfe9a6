"""OpenAI Chat Completions streams: chunks → events (:class:`StreamDecoder`, for remote backends)
and events → chunks (:class:`StreamEncoder`, for the server). Pure.

Decoding: text and refusal deltas → TextDelta; ``reasoning_content`` / ``reasoning`` deltas (which
llama-server, vLLM, DeepSeek and OpenRouter send) → ThinkingDelta; ``tool_calls`` deltas are
assembled by ``index`` and come out as one ToolCallEvent per call, in index order, when the
``finish_reason`` chunk arrives. Usage comes in a later chunk with empty ``choices`` (the request
sets ``stream_options.include_usage``), so :meth:`StreamDecoder.finish` emits the Done. A chunk
holding an ``error`` object raises its mapped error. ``data: [DONE]`` is the caller's business.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from hearth.errors import HearthError, ProviderError
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
from hearth.messages import JsonObject, JsonValue, ToolCallPart
from hearth.wire.base import WireChunk
from hearth.wire.compact import JsonTemplate
from hearth.wire.openai.errors import error_from_wire, error_to_wire
from hearth.wire.openai.logprobs import chat_logprobs_from_wire, chat_logprobs_to_wire
from hearth.wire.openai.shapes import (
    STOP_TO_FINISH,
    choice_stop,
    stop_string,
    str_or_none,
    tool_call_to_wire,
    usage_from_wire,
    usage_to_wire,
)


@dataclass(slots=True)
class _CallBuilder:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def add(self, delta: JsonObject) -> None:
        call_id = delta.get("id")
        if isinstance(call_id, str) and call_id and not self.id:
            self.id = call_id
        function = delta.get("function")
        if not isinstance(function, dict):
            return
        name = function.get("name")
        if isinstance(name, str) and name and not self.name:
            self.name = name  # some servers repeat the name on every delta: keep the first
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            self.arguments.append(arguments)
        elif isinstance(arguments, dict):
            self.arguments.append(json.dumps(arguments, separators=(",", ":"), ensure_ascii=False))

    def build(self, index: int) -> ToolCallPart:
        if not self.name:
            raise ProviderError(
                f"the stream's tool call {index} never named its function; "
                "the server sent a malformed tool call"
            )
        return ToolCallPart(self.id or f"call_{index}", self.name, "".join(self.arguments) or "{}")


class StreamDecoder:
    """``chat.completion.chunk`` objects → hearth stream events."""

    def __init__(self, *, provider: str = "openai") -> None:
        self._provider = provider
        self._calls: dict[int, _CallBuilder] = {}
        self._stop: StopReason | None = None
        self._stop_sequence: str | None = None  # the stop string, when the server names it
        self._usage = Usage()
        self._model: str | None = None
        self._id: str | None = None
        self._finished = False

    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]:
        if self._finished:
            raise ProviderError("a chunk was fed to a finished OpenAI stream decoder")
        if data.get("error"):
            raise self._error(data)
        self._model = str_or_none(data.get("model")) or self._model
        self._id = str_or_none(data.get("id")) or self._id
        if isinstance(data.get("usage"), dict):
            self._usage = usage_from_wire(data["usage"])
        choices = data.get("choices")
        events: list[StreamEvent] = []
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice, events)
        return events

    def _choice(self, choice: JsonObject, events: list[StreamEvent]) -> None:
        """One ``choices[]`` item of index 0 (subclasses decode other chunk shapes)."""
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._delta(delta, choice, events)
        reason = choice.get("finish_reason")
        if reason is not None and self._stop is None:
            self._stop, self._stop_sequence = choice_stop(choice, bool(self._calls))
            events.extend(self._take_calls())

    def _delta(self, delta: JsonObject, choice: JsonObject, events: list[StreamEvent]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append(ThinkingDelta(reasoning))
        logprobs = chat_logprobs_from_wire(choice.get("logprobs"))
        for key in ("content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and (text or logprobs):
                events.append(TextDelta(text, logprobs=logprobs))
                logprobs = ()
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                index = call.get("index")
                if not isinstance(index, int) or isinstance(index, bool):
                    index = len(self._calls)  # servers that send whole calls without an index
                self._calls.setdefault(index, _CallBuilder()).add(call)

    def _take_calls(self) -> list[StreamEvent]:
        calls = [ToolCallEvent(self._calls[i].build(i)) for i in sorted(self._calls)]
        self._calls.clear()
        return list(calls)

    def _error(self, data: JsonObject) -> HearthError:
        error = data["error"]
        code = error.get("code") if isinstance(error, dict) else None
        status = code if isinstance(code, int) and 400 <= code <= 599 else 500
        exc = error_from_wire(status, data, {}, provider=self._provider)
        exc.args = (f"the stream failed midway: {exc}",)
        return exc

    def finish(self) -> list[StreamEvent]:
        if self._finished:
            return []
        self._finished = True
        if self._stop is None:
            raise ProviderError(
                f"the {self._provider} stream ended before its finish_reason chunk; the "
                "connection was probably cut — retry the request",
                provider=self._provider,
            )
        done = Done(
            self._stop, self._usage, self._stop_sequence, model=self._model, response_id=self._id
        )
        return [*self._take_calls(), done]


class StreamEncoder:
    """Hearth events → ``chat.completion.chunk`` objects, ending with the usage chunk and the
    ``[DONE]`` terminator (``WireChunk(None, None)``)."""

    def __init__(
        self,
        *,
        model: str,
        response_id: str,
        created: int | None = None,
        include_usage: bool = True,
    ) -> None:
        self._model = model
        self._id = response_id
        self._created = int(time.time()) if created is None else created
        self._include_usage = include_usage
        self._started = False
        self._calls = 0
        self._opened = {0}  # the choices whose role chunk was sent
        self._text_frames: dict[int, JsonTemplate] = {}  # a plain text delta's JSON, per choice

    def _chunk(
        self,
        delta: JsonObject,
        finish: str | None = None,
        end: Done | None = None,
        logprobs: tuple[TokenLogprob, ...] = (),
        index: int = 0,
    ) -> WireChunk:
        choice: JsonObject = {
            "index": index,
            "delta": delta,
            "logprobs": chat_logprobs_to_wire(logprobs) if logprobs else None,
            "finish_reason": finish,
        }
        if end is not None:
            choice["stop_reason"] = stop_string(end.stop_reason, end.stop_sequence)
        return WireChunk(
            None,
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [choice],
            },
        )

    def _text(self, text: str, index: int) -> WireChunk:
        """A plain text delta's chunk, its JSON from a template (the hot path: one per token)."""
        template = self._text_frames.get(index)
        if template is None:
            hole = self._chunk({"content": JsonTemplate.HOLE}, index=index).data
            assert hole is not None
            template = self._text_frames[index] = JsonTemplate(hole)
        chunk = self._chunk({"content": text}, index=index)
        return WireChunk(None, chunk.data, template.fill(text))

    def start(self) -> list[WireChunk]:
        """The opening chunk (``role: assistant``); :meth:`encode` sends it if needed."""
        if self._started:
            return []
        self._started = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def encode(self, event: StreamEvent) -> list[WireChunk]:
        out = self.start()
        if isinstance(event, TextDelta):
            index = event.choice
            if index not in self._opened:  # another answer's first chunk (n)
                self._opened.add(index)
                out.append(self._chunk({"role": "assistant", "content": ""}, index=index))
            if event.logprobs:
                delta: JsonObject = {"content": event.text}
                out.append(self._chunk(delta, logprobs=event.logprobs, index=index))
            elif event.text:
                out.append(self._text(event.text, index))
        elif isinstance(event, ThinkingDelta):
            if event.text:
                out.append(self._chunk({"reasoning_content": event.text}))
        elif isinstance(event, ToolCallEvent):
            call: JsonObject = {"index": self._calls, **tool_call_to_wire(event.call)}
            self._calls += 1
            out.append(self._chunk({"tool_calls": [call]}))
        elif isinstance(event, Done):  # a model's image (ImageEvent) has no OpenAI chunk form
            for index, end in enumerate(event.choices or (event,)):
                out.append(self._chunk({}, STOP_TO_FINISH[end.stop_reason], end, index=index))
            if self._include_usage:
                usage: JsonValue = usage_to_wire(event.usage)
                out.append(
                    WireChunk(
                        None,
                        {
                            "id": self._id,
                            "object": "chat.completion.chunk",
                            "created": self._created,
                            "model": self._model,
                            "choices": [],
                            "usage": usage,
                        },
                    )
                )
            out.append(WireChunk(None, None))
        return out

    def error(self, exc: HearthError) -> list[WireChunk]:
        """A mid-stream error chunk, as OpenAI sends one."""
        return [WireChunk(None, error_to_wire(exc)[1])]
