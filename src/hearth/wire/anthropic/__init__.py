"""The Anthropic Messages format (``/v1/messages``), both directions. Structured output rides
on a forced tool (:mod:`hearth.wire.anthropic.output`), whose call comes back as the answer
text. Anthropic has no raw completion and no embeddings API."""

from __future__ import annotations

from dataclasses import dataclass

from hearth.request import ChatRequest
from hearth.wire.anthropic import chat, errors, stream
from hearth.wire.anthropic.count import AnthropicCount
from hearth.wire.anthropic.output import OutputToolAnswer
from hearth.wire.base import AnswerFilter, HttpFacts, Limits, WireFormat
from hearth.wire.codecs import FunctionChatCodec, FunctionServeCodec


@dataclass(frozen=True, slots=True)
class _Chat(FunctionChatCodec):
    def answer(self, request: ChatRequest) -> AnswerFilter | None:
        """Structured output comes back as the output tool's call, turned into the text."""
        if request.response_format is None:
            return None
        return OutputToolAnswer(request.response_format.name)


FORMAT = WireFormat(
    name="anthropic",
    count=AnthropicCount(),
    http=HttpFacts(
        path="/v1/messages",
        stream_path="/v1/messages",
        auth_header="x-api-key",
        auth_prefix="",
        headers=(("anthropic-version", "2023-06-01"),),
    ),
    chat=_Chat(
        chat.request_to_wire, chat.response_from_wire, stream.StreamDecoder, errors.error_from_wire
    ),
    serve=FunctionServeCodec(
        chat.request_from_wire, chat.response_to_wire, stream.StreamEncoder, errors.error_to_wire
    ),
    limits=Limits(max_temperature=1.0),
)
