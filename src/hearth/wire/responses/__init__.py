"""OpenAI's Responses API (``/responses``), both directions: the ``openai-responses:`` provider
(and ``[providers.NAME] type = "responses"`` for any server with ``/v1/responses``) sends
requests with it, and ``hearth serve`` answers ``/v1/responses`` with it. It has no raw
completion and no embeddings API of its own.

The serve codec here is stateless (one request, one answer); the stored state of
``hearth serve`` (``store``, ``previous_response_id``, background responses) lives in
:mod:`hearth.server.responses` over :mod:`hearth.store.responses`.

Endpoint options (``Endpoint.wire_options``) this format reads: ``store`` (default false:
hearth sends the whole conversation each turn, and asks for reasoning back encrypted).
"""

from __future__ import annotations

from collections.abc import Mapping

from hearth.errors import HearthError, UnsupportedFeatureError
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
from hearth.wire.options import option_bool
from hearth.wire.responses import errors, stream
from hearth.wire.responses import request as _request
from hearth.wire.responses import response as _response


class _Chat:
    def request_to_wire(
        self, request: ChatRequest, *, model: str, stream: bool, options: WireOptions
    ) -> JsonObject:
        return _request.request_to_wire(
            request, model=model, stream=stream, store=option_bool(options, "store", False)
        )

    def response_from_wire(self, body: JsonObject) -> Response:
        return _response.response_from_wire(body)

    def stream_decoder(self, *, provider: str) -> StreamDecoder:
        return stream.StreamDecoder(provider=provider)

    def error_from_wire(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str], *, provider: str
    ) -> HearthError:
        return errors.error_from_wire(status, body, headers, provider=provider)

    def answer(self, request: ChatRequest) -> AnswerFilter | None:
        return None  # structured output comes back as the text



class _Serve:
    def request_from_wire(
        self, body: JsonObject, *, model: str | None = None, stream: bool = False
    ) -> WireRequest:
        call = _request.parse(body)
        if call.previous_response_id is not None or call.background:
            raise UnsupportedFeatureError(
                "previous_response_id and background need a stored response; POST to "
                "hearth serve's /v1/responses, which keeps them"
            )
        return WireRequest(model=call.model, request=call.chat_request(), stream=call.stream)

    def response_to_wire(self, response: Response, *, model: str, response_id: str) -> JsonObject:
        return _response.response_to_wire(response, model=model, response_id=response_id)

    def stream_encoder(
        self, *, model: str, response_id: str, body: JsonObject | None = None
    ) -> StreamEncoder:
        echo = _request.parse(body).echo if body else None
        return stream.StreamEncoder(model=model, response_id=response_id, echo=echo)

    def error_to_wire(self, exc: HearthError) -> tuple[int, JsonObject]:
        return errors.error_to_wire(exc)


FORMAT = WireFormat(
    name="responses",
    http=HttpFacts(path="/responses", stream_path="/responses"),
    chat=_Chat(),
    serve=_Serve(),
    limits=Limits(max_temperature=2.0),
)
