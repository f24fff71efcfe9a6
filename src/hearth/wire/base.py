"""What a wire format is: the codec Protocols every format implements, and :class:`WireFormat`,
the one typed object each ``hearth.wire.<format>`` package exports as ``FORMAT``.

A format has up to four codecs, all pure (no I/O):

* :class:`ChatCodec` — outbound chat, for remote backends: a :class:`~hearth.request.ChatRequest`
  to a request body, a response body to a :class:`~hearth.response.Response`, stream frames to
  :class:`~hearth.events.StreamEvent`\\ s, an error answer to a :class:`~hearth.errors.HearthError`,
  and the format's structured-output strategy (:meth:`ChatCodec.answer`);
* a raw text completion codec (``FORMAT.raw``): a :class:`ChatCodec` for the format's
  completion API, reached at :attr:`RawCompletion.path`;
* :class:`EmbedCodec` — the format's embeddings API, outbound;
* :class:`ServeCodec` — inbound, for ``hearth serve``: a request body to a ChatRequest, and a
  Response, events or an error back to the format's JSON.

:class:`HttpFacts` are the few HTTP facts that are not translation (paths, framing, auth
header). :class:`Limits` are the ranges the API itself accepts. Remote backends and the server
only ever talk to a format through these types; :mod:`hearth.wire.formats` is the registry.
See docs/wire.md for the vocabulary conventions every codec follows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from hearth.errors import HearthError
from hearth.events import StreamEvent
from hearth.messages import JsonObject, JsonValue
from hearth.request import ChatRequest, EmbedRequest
from hearth.response import Response

WireOptions = Mapping[str, JsonValue]
"""An endpoint's options for its format's codec (e.g. OpenAI's ``max_tokens_field``); each
codec reads the keys it knows."""


@dataclass(frozen=True, slots=True)
class WireRequest:
    """An inbound request: which model it names, what it asks, and whether it wants a stream."""

    model: str
    request: ChatRequest
    stream: bool


@dataclass(frozen=True, slots=True)
class WireChunk:
    """One outbound stream frame: an SSE ``event:`` name (None for data-only formats) and data.
    ``data`` None means a literal terminator such as OpenAI's ``[DONE]``. ``encoded``: ``data``
    already as compact JSON, where the encoder filled a template
    (:class:`~hearth.wire.compact.JsonTemplate`); the framing then sends it as is."""

    event: str | None
    data: JsonObject | None
    encoded: str | None = field(default=None, compare=False, repr=False)


class StreamDecoder(Protocol):
    """Wire stream frames → hearth events. ``feed`` takes one decoded SSE event's JSON data (with
    its ``event:`` name where the format uses one) or one NDJSON line; ``finish`` is called at
    the end of the byte stream and raises ProviderError if the terminal frame never came."""

    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class StreamEncoder(Protocol):
    """Hearth events → wire stream frames, for the server: opening frames, one event's frames,
    and the frames that report an error after the stream has started."""

    def start(self) -> list[WireChunk]: ...

    def encode(self, event: StreamEvent) -> list[WireChunk]: ...

    def error(self, exc: HearthError) -> list[WireChunk]: ...


class AnswerFilter(Protocol):
    """A structured-output strategy's way back: turns what the API answered into the answer
    text (e.g. Anthropic's forced output tool call → JSON text)."""

    def response(self, response: Response) -> Response: ...

    def events(self, events: list[StreamEvent]) -> list[StreamEvent]: ...


class ChatCodec(Protocol):
    """The outbound half of a chat (or raw completion) API, as a remote backend uses it."""

    def request_to_wire(
        self, request: ChatRequest, *, model: str, stream: bool, options: WireOptions
    ) -> JsonObject: ...

    def response_from_wire(self, body: JsonObject) -> Response: ...

    def stream_decoder(self, *, provider: str) -> StreamDecoder: ...

    def error_from_wire(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str], *, provider: str
    ) -> HearthError: ...

    def answer(self, request: ChatRequest) -> AnswerFilter | None:
        """How the answer to ``request`` comes back when the format carries structured output
        some other way than as text (None: the text is the answer)."""
        ...


@dataclass(frozen=True, slots=True)
class RawCompletion:
    """A format's raw text completion API: its codec and its path (same framing and auth as
    the chat API)."""

    codec: ChatCodec
    path: str


EmbedBatch = tuple[list[list[float]], int]
"""One embeddings answer: the vectors in input order and the input tokens counted."""


class EmbedCodec(Protocol):
    """The outbound half of an embeddings API. ``request_to_wire`` receives one batch of the
    (already checked) request's texts; it refuses options the API cannot honour."""

    @property
    def max_batch(self) -> int: ...

    def path(self, model: str, count: int) -> str: ...

    def request_to_wire(
        self, texts: Sequence[str], request: EmbedRequest, *, model: str
    ) -> JsonObject: ...

    def response_from_wire(self, body: JsonObject, *, count: int, provider: str) -> EmbedBatch: ...


class CountCodec(Protocol):
    """A format's token-counting API (Anthropic's ``count_tokens``, Gemini's
    ``countTokens``): the request whose prompt to count, and the count in the answer."""

    def path(self, model: str) -> str: ...

    def request_to_wire(self, request: ChatRequest, *, model: str) -> JsonObject: ...

    def response_from_wire(self, body: JsonObject, *, provider: str) -> int: ...


class ServeCodec(Protocol):
    """The inbound half of a chat API, as ``hearth serve`` uses it. ``model`` is the model the
    URL names and ``stream`` whether the URL asks for a stream, for formats that put them
    there (Gemini)."""

    def request_from_wire(
        self, body: JsonObject, *, model: str | None = None, stream: bool = False
    ) -> WireRequest: ...

    def response_to_wire(
        self, response: Response, *, model: str, response_id: str
    ) -> JsonObject: ...

    def stream_encoder(
        self, *, model: str, response_id: str, body: JsonObject | None = None
    ) -> StreamEncoder:
        """The encoder of a streamed answer; ``body`` is the request, for the stream options
        it may set (OpenAI's ``stream_options``)."""
        ...

    def error_to_wire(self, exc: HearthError) -> tuple[int, JsonObject]: ...


@dataclass(frozen=True, slots=True)
class HttpFacts:
    """The HTTP facts of a format. ``{model}`` in a path is the URL-quoted model name.
    ``base_url``: turns a configured base URL into a URL (e.g. Ollama's ``OLLAMA_HOST`` forms);
    None takes it as written."""

    path: str
    stream_path: str
    framing: Literal["sse", "ndjson"] = "sse"
    stream_query: tuple[tuple[str, str], ...] = ()
    auth_header: str = "authorization"
    auth_prefix: str = "Bearer "
    headers: tuple[tuple[str, str], ...] = ()
    base_url: Callable[[str], str] | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """The ranges the API itself accepts where they are narrower than hearth's settings
    (hearth's own allow more, for local samplers); the server refuses values past them."""

    max_temperature: float | None = None


@dataclass(frozen=True, slots=True)
class WireFormat:
    """Everything hearth knows about one wire format. ``raw``, ``embed``, ``serve`` and
    ``count`` (token counting) are None where the format has no such API or hearth does not
    serve it.
    ``token_limit_fields``: the fields an endpoint of the format may take the answer's token
    limit in (its ``max_tokens_field`` wire option, which a config table may set), the codec's
    default first; empty where the format has one field of its own."""

    name: str
    http: HttpFacts
    chat: ChatCodec
    raw: RawCompletion | None = None
    embed: EmbedCodec | None = None
    serve: ServeCodec | None = None
    limits: Limits = field(default_factory=Limits)
    count: CountCodec | None = None
    token_limit_fields: tuple[str, ...] = ()


class ErrorToWire(Protocol):
    def __call__(self, exc: HearthError) -> tuple[int, JsonObject]: ...
