"""Codecs made of a format's plain functions, for the formats whose translators need nothing
but their arguments: :class:`FunctionChatCodec` (a :class:`~hearth.wire.base.ChatCodec`) and
:class:`FunctionServeCodec` (a :class:`~hearth.wire.base.ServeCodec`). A format with endpoint
options or a structured-output strategy of its own writes its codec class instead (OpenAI,
Anthropic)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from hearth.errors import HearthError
from hearth.messages import JsonObject
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.base import (
    AnswerFilter,
    StreamDecoder,
    StreamEncoder,
    WireOptions,
    WireRequest,
)


class RequestToWire(Protocol):
    def __call__(self, request: ChatRequest, *, model: str, stream: bool) -> JsonObject: ...


class ErrorFromWire(Protocol):
    def __call__(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str]
    ) -> HearthError: ...


class RequestFromWire(Protocol):
    def __call__(self, body: JsonObject, *, model: str | None, stream: bool) -> WireRequest: ...


class ResponseToWire(Protocol):
    def __call__(self, response: Response, *, model: str, response_id: str) -> JsonObject: ...


class EncoderFactory(Protocol):
    def __call__(self, *, model: str, response_id: str) -> StreamEncoder: ...


@dataclass(frozen=True, slots=True)
class FunctionChatCodec:
    """Outbound chat from functions; the answer comes back as text."""

    to_wire: RequestToWire
    from_wire: Callable[[JsonObject], Response]
    decoder: Callable[[], StreamDecoder]
    error: ErrorFromWire

    def request_to_wire(
        self, request: ChatRequest, *, model: str, stream: bool, options: WireOptions
    ) -> JsonObject:
        return self.to_wire(request, model=model, stream=stream)

    def response_from_wire(self, body: JsonObject) -> Response:
        return self.from_wire(body)

    def stream_decoder(self, *, provider: str) -> StreamDecoder:
        return self.decoder()

    def error_from_wire(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str], *, provider: str
    ) -> HearthError:
        return self.error(status, body, headers)

    def answer(self, request: ChatRequest) -> AnswerFilter | None:
        return None


@dataclass(frozen=True, slots=True)
class FunctionServeCodec:
    """Inbound chat, for ``hearth serve``, from functions."""

    from_wire: RequestFromWire
    to_wire: ResponseToWire
    encoder: EncoderFactory
    error: Callable[[HearthError], tuple[int, JsonObject]]

    def request_from_wire(
        self, body: JsonObject, *, model: str | None = None, stream: bool = False
    ) -> WireRequest:
        return self.from_wire(body, model=model, stream=stream)

    def response_to_wire(
        self, response: Response, *, model: str, response_id: str
    ) -> JsonObject:
        return self.to_wire(response, model=model, response_id=response_id)

    def stream_encoder(
        self, *, model: str, response_id: str, body: JsonObject | None = None
    ) -> StreamEncoder:
        return self.encoder(model=model, response_id=response_id)

    def error_to_wire(self, exc: HearthError) -> tuple[int, JsonObject]:
        return self.error(exc)
