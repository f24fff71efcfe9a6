"""The Anthropic Messages format (``/v1/messages``), both directions. Structured output rides
on a forced tool (:mod:`hearth.wire.anthropic.output`), whose call comes back as the answer
text. Anthropic has no raw completion and no embeddings API."""

from __future__ import annotations

from collections.abc import Mapping

from hearth.errors import HearthError
from hearth.messages import JsonObject
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.anthropic import chat, errors, stream
from hearth.wire.anthropic.output import OutputToolAnswer
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
        """Structured output comes back as the output tool's call, turned into the text."""
        if request.response_format is None:
            return None
        return OutputToolAnswer(request.response_format.name)


class _Serve:
    def request_from_wire(
        self, body: JsonObject, *, model: str | None = None, stream: bool = False
    ) -> WireRequest:
        return chat.request_from_wire(body, model=model)

    def response_to_wire(self, response: Response, *, model: str, response_id: str) -> JsonObject:
        return chat.response_to_wire(response, model=model, response_id=response_id)

    def stream_encoder(
        self, *, model: str, response_id: str, body: JsonObject | None = None
    ) -> StreamEncoder:
        return stream.StreamEncoder(model=model, response_id=response_id)

    def error_to_wire(self, exc: HearthError) -> tuple[int, JsonObject]:
        return errors.error_to_wire(exc)


FORMAT = WireFormat(
    name="anthropic",
    http=HttpFacts(
        path="/v1/messages",
        stream_path="/v1/messages",
        auth_header="x-api-key",
        auth_prefix="",
        headers=(("anthropic-version", "2023-06-01"),),
    ),
    chat=_Chat(),
    serve=_Serve(),
    limits=Limits(max_temperature=1.0),
)
