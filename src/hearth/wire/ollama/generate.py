"""Ollama's ``/api/generate`` with ``raw: true`` (raw text completion), outbound. Pure: no I/O.

A raw-prompt :class:`~hearth.request.ChatRequest` (``prompt`` set) becomes ``{"model", "prompt",
"raw": true, "stream", "options"?, "format"?}``: Ollama then applies no template and continues
the text as it is. Settings go to ``options`` exactly as for ``/api/chat``
(:func:`hearth.wire.ollama.chat.options_to_wire`); ``response_format`` to ``format`` (the schema, or
``"json"``); grammars are refused. ``thinking`` is not sent: a raw prompt has no template to
switch reasoning on or off.

An answer (and each NDJSON stream line) is the ``/api/chat`` one with ``response`` (and, for
a thinking model, ``thinking``) where chat has ``message``; the rest — ``done``,
``done_reason``, ``prompt_eval_count``, ``eval_count``, ``{"error": …}`` lines — is the same.
So this module reshapes each line into the chat shape and lets :mod:`hearth.wire.ollama.chat` decode
it: one place for stop reasons (``length`` → max_tokens, else end_turn), usage and errors.
"""

from __future__ import annotations

from hearth.events import StreamEvent
from hearth.messages import JsonObject
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.ollama import chat as ollama
from hearth.wire.ollama.chat import error_from_wire
from hearth.wire.ollama.output import ollama_format

__all__ = ["StreamDecoder", "error_from_wire", "request_to_wire", "response_from_wire"]


def request_to_wire(request: ChatRequest, *, model: str, stream: bool) -> JsonObject:
    """The ``/api/generate`` body for a raw-prompt ``request``."""
    if request.prompt is None:
        raise ValueError("ollama_generate.request_to_wire takes a raw-prompt request")
    body: JsonObject = {"model": model, "prompt": request.prompt, "raw": True, "stream": stream}
    if request.response_format is not None:
        body["format"] = ollama_format(request.response_format)
    options = ollama.options_to_wire(request.settings)
    if options:
        body["options"] = options
    return body


def _as_chat(data: JsonObject) -> JsonObject:
    """A generate line in the shape of a chat line: ``response`` / ``thinking`` → ``message``."""
    if "error" in data:
        return data
    message: JsonObject = {"role": "assistant", "content": data.get("response") or ""}
    thinking = data.get("thinking")
    if isinstance(thinking, str) and thinking:
        message["thinking"] = thinking
    rest = {k: v for k, v in data.items() if k not in ("response", "thinking", "context")}
    return {**rest, "message": message}


def response_from_wire(body: JsonObject) -> Response:
    """A non-streamed ``/api/generate`` answer as a Response; an ``{"error": …}`` body raises."""
    return ollama.response_from_wire(_as_chat(body))


class StreamDecoder:
    """NDJSON lines of a streamed ``/api/generate`` answer → stream events: each ``response``
    piece a TextDelta, the ``done: true`` line the Done with usage and stop reason."""

    def __init__(self) -> None:
        self._chat = ollama.StreamDecoder()

    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]:
        return self._chat.feed(_as_chat(data), event)

    def finish(self) -> list[StreamEvent]:
        return self._chat.finish()
