"""The OpenAI format: Chat Completions (``/chat/completions``), the legacy text completions API
(``/completions``) and embeddings (``/embeddings``), both directions. Every OpenAI-compatible
server (vLLM, llama-server, LM Studio, groq, …) is an endpoint row of this format.

Endpoint options (``Endpoint.wire_options`` / ``raw_wire_options``) this format reads:
``max_tokens_field`` (servers that predate ``max_completion_tokens``), ``sampler_extensions``
(send top_k, min_p and repeat_penalty), ``repeat_penalty_field`` (vLLM's
``repetition_penalty``), and for raw completion ``output`` (where a schema goes).
"""

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
    RawCompletion,
    StreamDecoder,
    StreamEncoder,
    WireFormat,
    WireOptions,
    WireRequest,
)
from hearth.wire.openai import chat, completions, errors, inbound, stream
from hearth.wire.openai.embed import OpenAIEmbed
from hearth.wire.options import option_bool, option_str


def _sampler_options(options: WireOptions) -> tuple[bool, str]:
    return (
        option_bool(options, "sampler_extensions", False),
        option_str(options, "repeat_penalty_field", "repeat_penalty"),
    )


class _Chat:
    def request_to_wire(
        self, request: ChatRequest, *, model: str, stream: bool, options: WireOptions
    ) -> JsonObject:
        extensions, repeat_field = _sampler_options(options)
        return chat.request_to_wire(
            request,
            model=model,
            stream=stream,
            max_tokens_field=option_str(options, "max_tokens_field", "max_completion_tokens"),
            sampler_extensions=extensions,
            repeat_penalty_field=repeat_field,
        )

    def response_from_wire(self, body: JsonObject) -> Response:
        return chat.response_from_wire(body)

    def stream_decoder(self, *, provider: str) -> StreamDecoder:
        return stream.StreamDecoder(provider=provider)

    def error_from_wire(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str], *, provider: str
    ) -> HearthError:
        return errors.error_from_wire(status, body, headers, provider=provider)

    def answer(self, request: ChatRequest) -> AnswerFilter | None:
        return None


class _Completions(_Chat):
    def request_to_wire(
        self, request: ChatRequest, *, model: str, stream: bool, options: WireOptions
    ) -> JsonObject:
        extensions, repeat_field = _sampler_options(options)
        return completions.request_to_wire(
            request,
            model=model,
            stream=stream,
            sampler_extensions=extensions,
            repeat_penalty_field=repeat_field,
            output=completions.output_field(options.get("output")),
        )

    def response_from_wire(self, body: JsonObject) -> Response:
        return completions.response_from_wire(body)

    def stream_decoder(self, *, provider: str) -> StreamDecoder:
        return completions.StreamDecoder(provider=provider)

    def error_from_wire(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str], *, provider: str
    ) -> HearthError:
        return completions.error_from_wire(status, body, headers, provider=provider)


class _Serve:
    def request_from_wire(
        self, body: JsonObject, *, model: str | None = None, stream: bool = False
    ) -> WireRequest:
        return inbound.request_from_wire(body)

    def response_to_wire(self, response: Response, *, model: str, response_id: str) -> JsonObject:
        return chat.response_to_wire(response, model=model, response_id=response_id)

    def stream_encoder(
        self, *, model: str, response_id: str, body: JsonObject | None = None
    ) -> StreamEncoder:
        return stream.StreamEncoder(
            model=model, response_id=response_id, include_usage=inbound.include_usage(body or {})
        )

    def error_to_wire(self, exc: HearthError) -> tuple[int, JsonObject]:
        return errors.error_to_wire(exc)


FORMAT = WireFormat(
    name="openai",
    http=HttpFacts(path="/chat/completions", stream_path="/chat/completions"),
    chat=_Chat(),
    raw=RawCompletion(_Completions(), "/completions"),
    embed=OpenAIEmbed(),
    serve=_Serve(),
    limits=Limits(max_temperature=2.0),
    token_limit_fields=("max_completion_tokens", "max_tokens"),
)
