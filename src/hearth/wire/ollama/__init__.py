"""The Ollama format: ``/api/chat`` (NDJSON streams), ``/api/generate`` with ``raw: true`` for
raw completion, and ``/api/embed``, both directions. Its base URL is read the way Ollama's own
client reads ``OLLAMA_HOST`` (:func:`hearth.wire.ollama.host.parse_ollama_host`).

The server's half (``FORMAT.serve``) is :mod:`~hearth.wire.ollama.inbound` (requests),
:mod:`~hearth.wire.ollama.stream` (answers) and :mod:`~hearth.wire.ollama.errors`; the routes
beyond chat (``/api/generate``, ``/api/embed``, ``/api/tags``, ``/api/show``, ``/api/pull``…)
use :mod:`~hearth.wire.ollama.generate`, :mod:`~hearth.wire.ollama.embed` and
:mod:`~hearth.wire.ollama.models` directly."""

from __future__ import annotations

from hearth.errors import HearthError
from hearth.messages import JsonObject
from hearth.response import Response
from hearth.wire.base import HttpFacts, RawCompletion, StreamEncoder, WireFormat, WireRequest
from hearth.wire.codecs import FunctionChatCodec
from hearth.wire.ollama import chat, errors, generate, inbound
from hearth.wire.ollama import stream as answers
from hearth.wire.ollama.embed import OllamaEmbed
from hearth.wire.ollama.host import parse_ollama_host


class _Serve:
    def request_from_wire(
        self, body: JsonObject, *, model: str | None = None, stream: bool = False
    ) -> WireRequest:
        return inbound.request_from_wire(body, model=model)

    def response_to_wire(self, response: Response, *, model: str, response_id: str) -> JsonObject:
        return answers.response_to_wire(response, model=model, response_id=response_id)

    def stream_encoder(
        self, *, model: str, response_id: str, body: JsonObject | None = None
    ) -> StreamEncoder:
        return answers.StreamEncoder(model=model, response_id=response_id)

    def error_to_wire(self, exc: HearthError) -> tuple[int, JsonObject]:
        return errors.error_to_wire(exc)


FORMAT = WireFormat(
    name="ollama",
    http=HttpFacts(
        path="/api/chat", stream_path="/api/chat", framing="ndjson", base_url=parse_ollama_host
    ),
    chat=FunctionChatCodec(
        chat.request_to_wire, chat.response_from_wire, chat.StreamDecoder, errors.error_from_wire
    ),
    raw=RawCompletion(
        FunctionChatCodec(
            generate.request_to_wire,
            generate.response_from_wire,
            generate.StreamDecoder,
            errors.error_from_wire,
        ),
        "/api/generate",
    ),
    embed=OllamaEmbed(),
    serve=_Serve(),
)
