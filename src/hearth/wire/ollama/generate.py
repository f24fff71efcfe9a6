"""Ollama's ``/api/generate``: outbound with ``raw: true`` (raw text completion, for remote
backends), and inbound (for ``hearth serve``, :func:`generate_from_wire`). Pure: no I/O.

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

Inbound, ``raw: true`` makes the prompt a raw completion (``ChatRequest.prompt``; ``system``,
``images`` and ``think`` are refused with it: there is no template to place them); without it the
prompt (with its ``images``) is one user turn after the ``system`` message, through the model's
own template. ``template`` is refused (hearth never takes a template from a request), and so are
``suffix`` (fill-in-the-middle) and ``context`` (token contexts, which hearth never sends).
``options``, ``format``, ``think`` and ``keep_alive`` are read as for ``/api/chat``
(:mod:`hearth.wire.ollama.request_fields`). Answers are :mod:`hearth.wire.ollama.stream`'s.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.events import StreamEvent
from hearth.messages import JsonObject, Message, Part, TextPart
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.ollama import chat as ollama
from hearth.wire.ollama.chat import STRICT
from hearth.wire.ollama.errors import error_from_wire
from hearth.wire.ollama.output import ollama_format
from hearth.wire.ollama.request_fields import (
    InboundOptions,
    OllamaRequest,
    image_from_wire,
    invalid,
    read_shared,
)

__all__ = [
    "StreamDecoder",
    "error_from_wire",
    "generate_from_wire",
    "request_to_wire",
    "response_from_wire",
]


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
    return {**body, **ollama.logprobs_to_wire(request.settings)}


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


# ---------------------------------------------------------------------------------------------
# Inbound (for ``hearth serve``)


class _WireGenerateRequest(BaseModel):
    model_config = STRICT
    model: str | None = None
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None
    images: list[str] | None = None
    think: Any = None  # bool or a level; checked by hand for a clear message
    format: Any = None  # "json" or a JSON schema; checked by hand
    stream: bool | None = None
    options: InboundOptions | None = None
    keep_alive: Any = None  # seconds or a duration; checked by hand
    logprobs: bool | None = None
    top_logprobs: int | None = None


def generate_from_wire(body: JsonObject) -> OllamaRequest:
    """An inbound /api/generate body. With ``raw`` the prompt is a raw text completion (no
    template); without, it is one user turn (after ``system``) through the model's template.
    An empty request (no prompt, images or system) is Ollama's "load the model" request (no
    ChatRequest).
    Raises InvalidRequestError (UnsupportedFeatureError for what hearth cannot do) naming the
    field."""
    try:
        wire = _WireGenerateRequest.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None
    if not wire.model:
        raise InvalidRequestError("model: required; name the model to generate with")
    _refuse_unsupported(wire)
    shared = read_shared(wire)
    settings, output = shared.settings, shared.output
    if not (wire.prompt or wire.images or wire.system):
        return shared.request(wire.model, None)
    if wire.raw:
        _check_raw(wire)
        request = ChatRequest(prompt=wire.prompt, settings=settings, response_format=output)
    else:
        messages = [Message.system(wire.system)] if wire.system else []
        parts: list[Part] = [TextPart(wire.prompt or "")]
        parts += [image_from_wire(d, f"images[{j}]") for j, d in enumerate(wire.images or [])]
        messages.append(Message("user", tuple(parts)))
        request = ChatRequest(messages=tuple(messages), settings=settings, response_format=output)
    return shared.request(wire.model, request)


def _refuse_unsupported(wire: _WireGenerateRequest) -> None:
    if wire.template:
        raise InvalidRequestError(
            "template: hearth never takes a prompt template from a request; the model's own "
            "template is used (or send raw: true with a prompt that is already templated)"
        )
    if wire.suffix:
        raise UnsupportedFeatureError(
            "suffix: fill-in-the-middle is not supported; send the text before the gap as the "
            "prompt"
        )
    if wire.context:
        raise UnsupportedFeatureError(
            "context: token contexts from an earlier answer are not supported (hearth never "
            "sends one); send the conversation as messages to /api/chat"
        )


def _check_raw(wire: _WireGenerateRequest) -> None:
    for name in ("system", "images"):
        if getattr(wire, name):
            raise InvalidRequestError(
                f"{name}: has no place in a raw prompt (raw: true sends the prompt as it is, "
                f"with no template); put it in the prompt text, or leave raw out"
            )
    if wire.think:
        raise InvalidRequestError(
            "think: a raw prompt has no template to switch thinking on; leave raw out"
        )
