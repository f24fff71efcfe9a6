"""Responses API streams: hearth events → the API's events (:class:`StreamEncoder`, for the
server) and back (:class:`StreamDecoder`, for remote backends). Pure.

The encoder sends the full sequence the openai SDK's accumulator expects, each event with its
``sequence_number``: ``response.created`` and ``response.in_progress`` first; per output item
``response.output_item.added``, its content (``response.content_part.added``,
``response.output_text.delta`` … ``.done``, ``response.content_part.done`` for a message;
``response.reasoning_text.delta`` … ``.done`` for reasoning;
``response.function_call_arguments.delta`` and ``.done`` for a call) and
``response.output_item.done``; and last ``response.completed`` (or ``response.incomplete``)
carrying the whole response object, which the encoder accumulates as it goes. An error after
the stream began is an ``error`` event, then ``response.failed``.

The decoder turns text and refusal deltas into TextDeltas, reasoning text (or summary) deltas
into ThinkingDeltas, and each finished item's identity into a signature-only delta (the
reasoning item, or the message's id; see :mod:`hearth.wire.responses.items`); a
``function_call`` comes out as one ToolCallEvent when its item is done. ``response.completed``
/ ``response.incomplete`` end it with Done; ``response.failed`` and ``error`` raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hearth.errors import HearthError, ProviderError
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent
from hearth.logprobs import TokenLogprob
from hearth.messages import JsonObject, JsonValue, ThinkingPart, ToolCallPart
from hearth.response import Response, ResponseAccumulator
from hearth.wire.base import WireChunk
from hearth.wire.openai.logprobs import chat_logprobs_from_wire, chat_logprobs_to_wire
from hearth.wire.responses.errors import error_from_wire, error_to_wire
from hearth.wire.responses.items import ID_META, compact, reasoning_text
from hearth.wire.responses.request import default_echo, new_id
from hearth.wire.responses.response import (
    NewId,
    call_output,
    message_output,
    reasoning_output,
    response_object,
    stop_reason,
    text_output_part,
    usage_from_wire,
)

Finished = Callable[[JsonObject, Response | None], None]
"""Called with the final response object (and the Response, None when the stream failed)."""


@dataclass
class _Open:
    kind: str  # "message" | "reasoning"
    id: str
    index: int
    text: list[str] = field(default_factory=list)
    signature: str | None = None
    has_part: bool = False
    logprobs: list[TokenLogprob] = field(default_factory=list)


def _entries(logprobs: tuple[TokenLogprob, ...]) -> JsonValue:
    return chat_logprobs_to_wire(logprobs)["content"] if logprobs else []


class StreamEncoder:
    """Hearth events → Responses stream events. ``single_call`` keeps only the first tool
    call (``parallel_tool_calls: false``); ``finished`` is told the final object."""

    def __init__(
        self,
        *,
        model: str,
        response_id: str,
        echo: JsonObject | None = None,
        created_at: float | None = None,
        single_call: bool = False,
        finished: Finished | None = None,
        ids: NewId = new_id,
    ) -> None:
        self._model = model
        self._id = response_id
        self._echo = echo if echo is not None else default_echo()
        self._created = time.time() if created_at is None else created_at
        self._single = single_call
        self._finished = finished
        self._ids = ids
        self._seq = 0
        self._output: list[JsonValue] = []
        self._open: _Open | None = None
        self._calls = 0
        self._acc = ResponseAccumulator()
        self._started = False

    def _event(self, kind: str, **fields: JsonValue) -> WireChunk:
        data: JsonObject = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return WireChunk(kind, data)

    def _object(self, status: str, **extra: object) -> JsonObject:
        return response_object(
            response_id=self._id, model=self._model, status=status, output=list(self._output),
            echo=self._echo, created_at=self._created, **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    def start(self) -> list[WireChunk]:
        if self._started:
            return []
        self._started = True
        return [
            self._event("response.created", response=self._object("in_progress")),
            self._event("response.in_progress", response=self._object("in_progress")),
        ]

    def encode(self, event: StreamEvent) -> list[WireChunk]:
        out = self.start()
        if isinstance(event, ToolCallEvent) and self._single and self._calls:
            return out  # parallel_tool_calls: false keeps the first call only
        self._acc.add(event)
        if isinstance(event, TextDelta):
            out += self._delta("message", event.text, event.signature, event.logprobs)
        elif isinstance(event, ThinkingDelta):
            out += self._delta("reasoning", event.text, event.signature)
        elif isinstance(event, ToolCallEvent):
            out += self._close()
            out += self._call(event.call)
        elif isinstance(event, Done):
            out += self._close()
            out += self._done(event)
        return out  # an ImageEvent (a model's image) has no output item here

    def _delta(
        self,
        kind: str,
        text: str,
        signature: str | None,
        logprobs: tuple[TokenLogprob, ...] = (),
    ) -> list[WireChunk]:
        out: list[WireChunk] = []
        current = self._open
        if current is not None and current.kind != kind:
            out += self._close()
            current = None
        if current is None and (text or (signature and kind == "reasoning")):
            current = self._begin(kind, out)
        if current is None:
            return out
        if text:
            if not current.has_part:
                out.append(self._part_event("added", current, ""))
                current.has_part = True
            current.text.append(text)
            current.logprobs.extend(logprobs)
            delta = "response.output_text.delta" if kind == "message" else (
                "response.reasoning_text.delta")  # fmt: skip
            extra: JsonObject = {"logprobs": _entries(logprobs)} if kind == "message" else {}
            out.append(self._event(
                delta, item_id=current.id, output_index=current.index, content_index=0,
                delta=text, **extra,
            ))  # fmt: skip
        elif logprobs:  # tokens whose text was empty or held back: kept for the done events
            current.logprobs.extend(logprobs)
        if signature:
            current.signature = signature
            out += self._close()
        return out

    def _begin(self, kind: str, out: list[WireChunk]) -> _Open:
        prefix = "msg" if kind == "message" else "rs"
        current = _Open(kind, self._ids(prefix), len(self._output))
        if kind == "message":
            item = message_output("", current.id, status="in_progress")
        else:
            item = {"id": current.id, "type": "reasoning", "summary": []}
        out.append(self._event("response.output_item.added", output_index=current.index,
                               item=item))  # fmt: skip
        self._open = current
        return current

    def _part_event(self, stage: str, current: _Open, text: str) -> WireChunk:
        part: JsonObject = (
            text_output_part(text) if current.kind == "message"
            else {"type": "reasoning_text", "text": text}
        )  # fmt: skip
        if current.kind == "message" and stage == "done":
            part = text_output_part(text, tuple(current.logprobs))
        return self._event(
            f"response.content_part.{stage}", item_id=current.id, output_index=current.index,
            content_index=0, part=part,
        )  # fmt: skip

    def _close(self) -> list[WireChunk]:
        current, self._open = self._open, None
        if current is None:
            return []
        text = "".join(current.text)
        out: list[WireChunk] = []
        if current.has_part:
            kind = "output_text" if current.kind == "message" else "reasoning_text"
            extra: JsonObject = (
                {"logprobs": _entries(tuple(current.logprobs))} if current.kind == "message" else {}
            )
            out.append(self._event(
                f"response.{kind}.done", item_id=current.id, output_index=current.index,
                content_index=0, text=text, **extra,
            ))  # fmt: skip
            out.append(self._part_event("done", current, text))
        if current.kind == "message":
            item = message_output(text, current.id, logprobs=tuple(current.logprobs))
        else:
            item = dict(reasoning_output(ThinkingPart(text, current.signature), current.id))
            item["id"] = current.id  # the stream's identity, even for an upstream item
        self._output.append(item)
        out.append(self._event("response.output_item.done", output_index=current.index,
                               item=item))  # fmt: skip
        return out

    def _call(self, call: ToolCallPart) -> list[WireChunk]:
        self._calls += 1
        index = len(self._output)
        item = call_output(call, self._ids("fc"))
        item_id = item["id"]
        started = {**item, "status": "in_progress", "arguments": ""}
        self._output.append(item)
        return [
            self._event("response.output_item.added", output_index=index, item=started),
            self._event("response.function_call_arguments.delta", item_id=item_id,
                        output_index=index, delta=call.arguments),
            self._event("response.function_call_arguments.done", item_id=item_id,
                        output_index=index, name=call.name, arguments=call.arguments),
            self._event("response.output_item.done", output_index=index, item=item),
        ]  # fmt: skip

    def _done(self, done: Done) -> list[WireChunk]:
        final = self._object("completed", usage=done.usage, stop_reason=done.stop_reason)
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        if self._finished is not None:
            self._finished(final, self._acc.response())
        return [self._event(kind, response=final)]

    def error(self, exc: HearthError) -> list[WireChunk]:
        """An ``error`` event, then ``response.failed`` with what was finished."""
        _, body = error_to_wire(exc)
        detail = body.get("error")
        info: JsonObject = detail if isinstance(detail, dict) else {}
        code = info.get("code") or info.get("type") or "server_error"
        message = str(info.get("message") or exc)
        failed = self._object("failed", error={"code": code, "message": message})
        if self._finished is not None:
            self._finished(failed, None)
        return [
            self._event("error", code=code, message=message, param=info.get("param")),
            self._event("response.failed", response=failed),
        ]


class StreamDecoder:
    """Responses stream events → hearth stream events."""

    def __init__(self, *, provider: str = "openai") -> None:
        self._provider = provider
        self._texts: set[int] = set()  # output indexes whose text arrived as deltas
        self._reasoned: set[int] = set()  # … whose reasoning arrived as reasoning_text
        self._thought: set[int] = set()  # … whose reasoning arrived at all
        self._summaries: set[tuple[int, int]] = set()  # (output index, summary index) seen
        self._calls = False
        self._done = False
        self._handlers: dict[str, Callable[[JsonObject, int], list[StreamEvent]]] = {
            "response.output_text.delta": self._text,
            "response.refusal.delta": self._text,
            "response.reasoning_text.delta": self._reasoning,
            "response.reasoning_summary_text.delta": self._summary,
            "response.output_item.done": self._item_done,
            "response.completed": self._completed,
            "response.incomplete": self._completed,
            "response.failed": self._failed,
            "error": self._error_event,
        }

    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]:
        if self._done:
            return []
        kind = data.get("type") or event
        handler = self._handlers.get(kind if isinstance(kind, str) else "")
        if handler is None:
            return []  # lifecycle and part events carry nothing a hearth event needs
        index = data.get("output_index")
        return handler(data, index if isinstance(index, int) else -1)

    def _text(self, data: JsonObject, at: int) -> list[StreamEvent]:
        self._texts.add(at)
        delta = data.get("delta")
        logprobs = chat_logprobs_from_wire({"content": data.get("logprobs")})
        if not isinstance(delta, str) or not (delta or logprobs):
            return []
        return [TextDelta(delta, logprobs=logprobs)]

    def _reasoning(self, data: JsonObject, at: int) -> list[StreamEvent]:
        self._reasoned.add(at)
        self._thought.add(at)
        delta = data.get("delta")
        return [ThinkingDelta(delta)] if isinstance(delta, str) and delta else []

    def _item_done(self, data: JsonObject, at: int) -> list[StreamEvent]:
        item = data.get("item")
        return self._item(item, at) if isinstance(item, dict) else []

    def _completed(self, data: JsonObject, at: int) -> list[StreamEvent]:
        return self._finish(data.get("response"))

    def _failed(self, data: JsonObject, at: int) -> list[StreamEvent]:
        from hearth.wire.responses.response import failure

        body = data.get("response")
        raise failure(body if isinstance(body, dict) else {}, provider=self._provider)

    def _error_event(self, data: JsonObject, at: int) -> list[StreamEvent]:
        raise self._error(data)

    def _summary(self, data: JsonObject, at: int) -> list[StreamEvent]:
        """A summary delta; a new summary part after the first starts with a blank line, as
        the summaries of a whole item are joined."""
        delta = data.get("delta")
        if at in self._reasoned or not isinstance(delta, str) or not delta:
            return []
        index = data.get("summary_index")
        part = (at, index if isinstance(index, int) else 0)
        gap = "\n\n" if part not in self._summaries and at in self._thought else ""
        self._summaries.add(part)
        self._thought.add(at)
        return [ThinkingDelta(gap + delta)]

    def _item(self, item: JsonObject, at: int) -> list[StreamEvent]:
        kind = item.get("type")
        if kind == "reasoning":
            text = "" if at in self._thought else reasoning_text(item)
            return [ThinkingDelta(text, signature=compact(item))]
        if kind == "message" and item.get("role", "assistant") == "assistant":
            out: list[StreamEvent] = []
            if at not in self._texts:
                from hearth.wire.responses.content import text_content

                text = text_content(item, "", ("output_text", "refusal")) if isinstance(
                    item.get("content"), list) else ""  # fmt: skip
                if text:
                    out.append(TextDelta(text))
            identity: JsonObject = {k: item[k] for k in ("id", "phase") if isinstance(
                item.get(k), str)}  # fmt: skip
            if "id" in identity:
                out.append(TextDelta("", signature=compact(identity)))
            return out
        if kind == "function_call":
            return [ToolCallEvent(self._call(item))]
        return []

    def _call(self, item: JsonObject) -> ToolCallPart:
        name, call_id, arguments = item.get("name"), item.get("call_id"), item.get("arguments")
        if not isinstance(name, str) or not name or not isinstance(call_id, str):
            raise ProviderError(
                f"the {self._provider} stream sent a function_call without a name or call_id"
            )
        self._calls = True
        item_id = item.get("id")
        meta: JsonObject | None = {ID_META: item_id} if isinstance(item_id, str) else None
        return ToolCallPart(call_id, name, arguments if isinstance(arguments, str) else "{}",
                            meta=meta)  # fmt: skip

    def _finish(self, body: JsonValue) -> list[StreamEvent]:
        self._done = True
        response = body if isinstance(body, dict) else {}
        model, response_id = response.get("model"), response.get("id")
        return [
            Done(
                stop_reason(response, self._calls),
                usage_from_wire(response.get("usage")),
                model=model if isinstance(model, str) else None,
                response_id=response_id if isinstance(response_id, str) else None,
            )
        ]

    def _error(self, data: JsonObject) -> HearthError:
        code = data.get("code")
        status = 429 if code == "rate_limit_exceeded" else 500
        detail: JsonObject = {"message": data.get("message"), "code": code,
                              "param": data.get("param")}  # fmt: skip
        exc = error_from_wire(status, {"error": detail}, {}, provider=self._provider)
        exc.args = (f"the stream failed midway: {exc}",)
        return exc

    def finish(self) -> list[StreamEvent]:
        if not self._done:
            raise ProviderError(
                f"the {self._provider} stream ended before response.completed; the connection "
                "was probably cut — retry the request",
                provider=self._provider,
            )
        return []
