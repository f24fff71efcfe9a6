"""The Gemini format (``models/{model}:generateContent`` and ``:streamGenerateContent``) and
its embeddings API, both directions. The model lives in the URL; Gemini has no raw
completion."""

from __future__ import annotations

from collections.abc import Mapping

from hearth.errors import HearthError
from hearth.messages import JsonObject
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.base import (
    AnswerFilter,
    HttpFacts,
    Limits,
    StreamDecoder,
    StreamEncoder,
    WireFormat,
    WireOptions,
    WireRequest,
)
from hearth.wire.gemini import chat, errors, stream
from hearth.wire.gemini.embed import GeminiEmbed


class _Chat:
    def request_to_wire(
        self, request: ChatRequest, *, model: str, stream: bool, options: WireOptions
    ) -> JsonObject:
        return chat.request_to_wire(request, model=model, stream=stream)

    def response_from_wire(self, body: JsonObject) -> Response:
        return chat.response_from_wire(body)

    def stream_decoder(self, *, provider: str) -> StreamDecoder:
        return stream.StreamDecoder()

    def error_from_wire(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str], *, provider: str
    ) -> HearthError:
        return errors.error_from_wire(status, body, headers)

    def answer(self, request: ChatRequest) -> AnswerFilter | None:
        return None


class _Serve:
    def request_from_wire(
        self, body: JsonObject, *, model: str | None = None, stream: bool = False
    ) -> WireRequest:
        return chat.request_from_wire(body, model=model, stream=stream)

    def response_to_wire(self, response: Response, *, model: str, response_id: str) -> JsonObject:
        return chat.response_to_wire(response, model=model, response_id=response_id)

    def stream_encoder(
        self, *, model: str, response_id: str, body: JsonObject | None = None
    ) -> StreamEncoder:
        return stream.StreamEncoder(model=model, response_id=response_id)

    def error_to_wire(self, exc: HearthError) -> tuple[int, JsonObject]:
        return errors.error_to_wire(exc)


FORMAT = WireFormat(
    name="gemini",
    http=HttpFacts(
        path="/v1beta/models/{model}:generateContent",
        stream_path="/v1beta/models/{model}:streamGenerateContent",
        stream_query=(("alt", "sse"),),
        auth_header="x-goog-api-key",
        auth_prefix="",
    ),
    chat=_Chat(),
    embed=GeminiEmbed(),
    serve=_Serve(),
    limits=Limits(max_temperature=2.0),
)
