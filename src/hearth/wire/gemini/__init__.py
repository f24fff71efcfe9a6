"""The Gemini format (``models/{model}:generateContent`` and ``:streamGenerateContent``) and
its embeddings API, both directions. The model lives in the URL; Gemini has no raw
completion."""

from __future__ import annotations

from hearth.wire.base import HttpFacts, Limits, WireFormat
from hearth.wire.codecs import FunctionChatCodec, FunctionServeCodec
from hearth.wire.gemini import chat, errors, stream
from hearth.wire.gemini.count import GeminiCount
from hearth.wire.gemini.embed import GeminiEmbed

FORMAT = WireFormat(
    name="gemini",
    count=GeminiCount(),
    http=HttpFacts(
        path="/v1beta/models/{model}:generateContent",
        stream_path="/v1beta/models/{model}:streamGenerateContent",
        stream_query=(("alt", "sse"),),
        auth_header="x-goog-api-key",
        auth_prefix="",
    ),
    chat=FunctionChatCodec(
        chat.request_to_wire, chat.response_from_wire, stream.StreamDecoder, errors.error_from_wire
    ),
    embed=GeminiEmbed(),
    serve=FunctionServeCodec(
        chat.request_from_wire, chat.response_to_wire, stream.StreamEncoder, errors.error_to_wire
    ),
    limits=Limits(max_temperature=2.0),
)
