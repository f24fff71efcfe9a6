"""RemoteBackend: one generic backend for every remote API, driven by data.

What differs between providers is split three ways:

* the **endpoint** (:mod:`hearth.backends.endpoints`): base URL, key variables, capabilities;
* the **wire module** (:mod:`hearth.wire`): pure translation of requests, responses, streams and
  errors;
* the **format table** (:data:`WIRE_FORMATS` here): the few HTTP facts that are not translation —
  URL path, auth header, extra headers, SSE or NDJSON framing, a streaming query parameter, and
  the module and path of the format's raw text completion API, if it has one.

A call builds the body with the wire module's ``request_to_wire``, posts it through
:class:`hearth._http.Retrier`, and for a stream decodes the bytes with :mod:`hearth._sse` into the
wire module's ``StreamDecoder``. An error response is read in full and mapped by the wire
module's ``error_from_wire`` before any event is yielded. The sync and async twins share every
non-I/O step (:meth:`RemoteBackend._prepare`, :class:`_StreamReader`, :meth:`RemoteBackend._fail`).

A raw-prompt request (``ChatRequest.prompt``) goes to the raw completion API instead
(``/completions`` on OpenAI-compatible endpoints, Ollama's ``/api/generate`` with ``raw: true``)
through its own wire module (:mod:`hearth.wire.openai_completions`,
:mod:`hearth.wire.ollama_generate`), when the endpoint's capabilities say ``raw_completion``;
otherwise it is refused before any I/O (Anthropic, Gemini, OpenAI's chat models, …).
"""

from __future__ import annotations

import importlib
import json
import threading
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast

import httpx

from hearth._http import (
    Retrier,
    RetryPolicy,
    Timeouts,
    new_async_client,
    new_client,
    redact,
    transport_error,
)
from hearth._sse import NDJSONDecoder, SSEDecoder, SSEEvent
from hearth.backends.base import BackendBase, Capabilities, raw_completion_unsupported
from hearth.backends.endpoints import (
    RAW_COMPLETION_WIRES,
    Endpoint,
    ResolvedEndpoint,
    WireName,
)
from hearth.errors import (
    AuthenticationError,
    HearthError,
    ModelNotFoundError,
    ProviderError,
    UnsupportedFeatureError,
)
from hearth.events import StreamEvent
from hearth.messages import ImagePart, JsonObject, JsonValue
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.output_formats import OutputToolAnswer

if TYPE_CHECKING:
    from hearth.embeddings import Embeddings


@dataclass(frozen=True, slots=True)
class WireFormat:
    """The HTTP facts of one wire format. ``{model}`` in a path is the URL-quoted model name.
    ``provider_kw``: the wire module's ``error_from_wire`` and ``StreamDecoder`` take
    ``provider=`` (so an OpenAI-compatible endpoint's errors carry its own name).
    ``output_tool``: structured output travels as a forced tool whose call is turned back into
    the answer text here (:class:`hearth.wire.output_formats.OutputToolAnswer`).
    ``raw_module`` / ``raw_path``: the wire module and path of raw text completion (None: the
    format has none); the same framing, auth and error shapes as the chat API."""

    module: str
    path: str
    stream_path: str
    framing: Literal["sse", "ndjson"] = "sse"
    stream_query: tuple[tuple[str, str], ...] = ()
    auth_header: str = "authorization"
    auth_prefix: str = "Bearer "
    headers: tuple[tuple[str, str], ...] = ()
    provider_kw: bool = False
    output_tool: bool = False
    raw_module: str | None = None
    raw_path: str | None = None


WIRE_FORMATS: Mapping[WireName, WireFormat] = MappingProxyType(
    {
        "openai": WireFormat(
            "hearth.wire.openai", "/chat/completions", "/chat/completions", provider_kw=True,
            raw_module="hearth.wire.openai_completions", raw_path="/completions",
        ),
        "anthropic": WireFormat(
            "hearth.wire.anthropic", "/v1/messages", "/v1/messages",
            auth_header="x-api-key", auth_prefix="",
            headers=(("anthropic-version", "2023-06-01"),), output_tool=True,
        ),
        "gemini": WireFormat(
            "hearth.wire.gemini",
            "/v1beta/models/{model}:generateContent",
            "/v1beta/models/{model}:streamGenerateContent",
            stream_query=(("alt", "sse"),), auth_header="x-goog-api-key", auth_prefix="",
        ),
        "ollama": WireFormat(
            "hearth.wire.ollama", "/api/chat", "/api/chat", framing="ndjson",
            raw_module="hearth.wire.ollama_generate", raw_path="/api/generate",
        ),
    }
)  # fmt: skip


class _Decoder(Protocol):
    def feed(self, data: JsonObject, event: str | None = None) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class _WireModule(Protocol):
    """The outbound half of a wire module, as a remote backend uses it."""

    StreamDecoder: Callable[..., _Decoder]

    def request_to_wire(
        self, request: ChatRequest, *, model: str, stream: bool, **options: JsonValue
    ) -> JsonObject: ...

    def response_from_wire(self, body: JsonObject) -> Response: ...

    def error_from_wire(
        self, status: int, body: JsonObject | str, headers: Mapping[str, str], **kw: str
    ) -> HearthError: ...


@dataclass(frozen=True, slots=True)
class _Call:
    url: str
    params: tuple[tuple[str, str], ...]
    headers: Mapping[str, str] = field(repr=False)  # holds the key
    body: bytes = field(repr=False)
    wire: _WireModule | None = field(default=None, repr=False)  # None: the chat wire module


class _StreamReader:
    """Body bytes → hearth events: framing (SSE / NDJSON), ``[DONE]``, JSON, the wire decoder.
    Shared by the sync and async twins. An error met after some events of the same chunk is
    held back until those events are delivered."""

    def __init__(
        self,
        framing: Literal["sse", "ndjson"],
        decoder: _Decoder,
        answer: OutputToolAnswer | None = None,
    ) -> None:
        self._sse = SSEDecoder() if framing == "sse" else None
        self._ndjson = NDJSONDecoder() if framing == "ndjson" else None
        self._decoder = decoder
        self._answer = answer
        self._error: HearthError | None = None
        self.done = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        self._raise_held()
        if self._sse is not None:
            return self._out(self._frames(self._sse.feed(chunk)))
        assert self._ndjson is not None
        return self._out(self._objects(self._ndjson.feed(chunk)))

    def finish(self) -> list[StreamEvent]:
        self._raise_held()
        events: list[StreamEvent] = []
        if not self.done and self._sse is not None:
            events = self._frames(self._sse.finish())
        elif not self.done and self._ndjson is not None:
            events = self._objects(self._ndjson.finish())
        if self._error is not None:
            return self._out(events)
        return self._out(events + self._decoder.finish())

    def _out(self, events: list[StreamEvent]) -> list[StreamEvent]:
        return events if self._answer is None else self._answer.events(events)

    def _raise_held(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self.done = True
            raise error

    def _objects(self, objects: list[JsonObject]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for obj in objects:
            if not self._decode(obj, None, events):
                break
        return events

    def _frames(self, frames: list[SSEEvent]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for frame in frames:
            if self.done or frame.data == "[DONE]":
                self.done = True
                break
            try:
                data = json.loads(frame.data)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                error = ProviderError(
                    f"a stream event's data is not a JSON object: {frame.data[:200]!r}"
                )
                if not events:
                    raise error
                self._error = error
                break
            if not self._decode(data, frame.event, events):
                break
        return events

    def _decode(self, data: JsonObject, event: str | None, events: list[StreamEvent]) -> bool:
        """Feed one frame to the wire decoder; False when it failed after earlier events."""
        try:
            events += self._decoder.feed(data, event)
        except HearthError as exc:
            if not events:
                raise
            self._error = exc
            return False
        return True


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """How a remote backend talks HTTP: timeouts, retries, and (optionally) the caller's own
    httpx clients, which hearth then neither configures nor closes."""

    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    client: httpx.Client | None = None
    async_client: httpx.AsyncClient | None = None


class RemoteBackend(BackendBase):
    """A model behind a remote API. Thread-safe; one connection pool per backend."""

    def __init__(
        self,
        resolved: ResolvedEndpoint,
        model: str,
        *,
        http: HttpOptions | None = None,
        vision: bool | None = None,
        raw_completion: bool | None = None,
    ) -> None:
        self._resolved = resolved
        self._endpoint: Endpoint = resolved.endpoint
        self._model = model
        self._format = WIRE_FORMATS[self._endpoint.wire]
        self._wire = cast(_WireModule, importlib.import_module(self._format.module))
        self._http = http or HttpOptions()
        self._capabilities = self._endpoint.capabilities(
            model, vision=vision, raw_completion=raw_completion
        )
        self._secrets = (resolved.api_key,) if resolved.api_key is not None else ()
        self._retrier = Retrier(self._http.retry, provider=self.name, secrets=self._secrets)
        self._url, self._stream_url = self._urls()
        self._lock = threading.Lock()
        self._client: httpx.Client | None = self._http.client
        self._aclient: httpx.AsyncClient | None = self._http.async_client
        self._aclient_loop: object = None

    @property
    def name(self) -> str:
        return f"{self._endpoint.name}:{self._model}"

    @property
    def base_url(self) -> str:
        return self._resolved.base_url

    def __repr__(self) -> str:
        return f"RemoteBackend({self.name!r}, base_url={self.base_url!r})"

    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- shared, no I/O -------------------------------------------------------------------------

    def _urls(self) -> tuple[str, str]:
        quoted = urllib.parse.quote(self._model.removeprefix("models/"), safe="-._~")
        base = self._resolved.base_url
        return (
            base + self._format.path.replace("{model}", quoted),
            base + self._format.stream_path.replace("{model}", quoted),
        )

    def _prepare(self, request: ChatRequest, *, stream: bool) -> _Call:
        if request.prompt is not None:
            return self._call(*self._raw_target(), request, stream=stream)
        if not self._capabilities.vision and any(
            isinstance(p, ImagePart) for m in request.messages for p in m.parts
        ):
            raise UnsupportedFeatureError(
                f"{self.name} does not take images as far as hearth knows; remove the images, "
                f"or pass vision=True to hearth.model({self.name!r}, …) if the model accepts them"
            )
        url = self._stream_url if stream else self._url
        return self._call(None, url, self._endpoint.wire_options, request, stream=stream)

    def _raw_target(self) -> tuple[_WireModule, str, Mapping[str, JsonValue]]:
        """The wire module, URL and options of raw text completion, or the refusal."""
        if not self._capabilities.raw_completion or self._format.raw_module is None:
            raise raw_completion_unsupported(self.name)
        wire = cast(_WireModule, importlib.import_module(self._format.raw_module))
        url = self._resolved.base_url + (self._format.raw_path or "")
        return wire, url, self._endpoint.raw_wire_options

    def _call(
        self,
        wire: _WireModule | None,
        url: str,
        options: Mapping[str, JsonValue],
        request: ChatRequest,
        *,
        stream: bool,
    ) -> _Call:
        """The HTTP call for ``request``: ``wire`` (None: the chat module) builds the body."""
        encoder = self._wire if wire is None else wire
        body = encoder.request_to_wire(request, model=self._model, stream=stream, **options)
        headers = {"content-type": "application/json", "accept": self._accept(stream)}
        headers.update(self._format.headers)
        if self._resolved.api_key is not None:
            headers[self._format.auth_header] = (
                self._format.auth_prefix + self._resolved.api_key.reveal()
            )
        return _Call(
            url=url,
            params=self._format.stream_query if stream and wire is None else (),
            headers=headers,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            wire=wire,
        )

    def _accept(self, stream: bool) -> str:
        if not stream:
            return "application/json"
        return "text/event-stream" if self._format.framing == "sse" else "application/x-ndjson"

    def _decoder(self, call: _Call, answer: OutputToolAnswer | None = None) -> _StreamReader:
        kw = {"provider": self._endpoint.name} if self._format.provider_kw else {}
        wire = call.wire or self._wire
        return _StreamReader(self._format.framing, wire.StreamDecoder(**kw), answer)

    def _output_tool(self, request: ChatRequest) -> OutputToolAnswer | None:
        """For a wire format that answers structured output through a tool: the converter
        that turns that tool's call back into the answer text."""
        if not self._format.output_tool or request.response_format is None:
            return None
        return OutputToolAnswer(request.response_format.name)

    def _answered(self, request: ChatRequest, response: Response) -> Response:
        answer = self._output_tool(request)
        return response if answer is None else answer.response(response)

    def _fail(self, response: httpx.Response, wire: _WireModule | None = None) -> HearthError:
        """The mapped error for a non-2xx response whose body has been read (``wire``: the
        module of the call, when not the chat one)."""
        status = response.status_code
        if 300 <= status <= 399:
            return self._polish(
                ProviderError(
                    f"{self.name}: {self.base_url} answered {status} with a redirect, which "
                    "hearth does not follow (a key must not travel elsewhere); set base_url "
                    "to the final URL",
                    status_code=status,
                )
            )
        text = response.text
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        body: JsonObject | str = parsed if isinstance(parsed, dict) else text
        kw = {"provider": self._endpoint.name} if self._format.provider_kw else {}
        mapper = (wire or self._wire).error_from_wire
        return self._polish(mapper(status, body, response.headers, **kw))

    def _polish(self, exc: HearthError) -> HearthError:
        """One place that makes every error safe and specific: no key in the message, the
        endpoint's name, the retry-after the headers gave, the model that was not found."""
        message = redact(str(exc), self._secrets)
        if isinstance(exc, AuthenticationError) and self._resolved.withheld_key_env:
            message += (
                f" (hearth did not send {self._resolved.withheld_key_env}: base_url "
                f"{self.base_url} is not that key's endpoint; pass api_key= to send a key there)"
            )
        exc.args = (message,)
        if isinstance(exc, ProviderError):
            exc.provider = self._endpoint.name
        if isinstance(exc, ModelNotFoundError) and not exc.model:
            exc.model = self._model
        return exc

    def _response(self, response: httpx.Response, call: _Call) -> Response:
        if not response.is_success:
            raise self._fail(response, call.wire)
        try:
            body = response.json()
        except ValueError:
            raise self._polish(
                ProviderError(
                    f"{self.name} answered {response.status_code} with a body that is not JSON: "
                    f"{response.text[:200]!r}",
                    status_code=response.status_code,
                )
            ) from None
        if not isinstance(body, dict):
            raise self._polish(ProviderError(f"{self.name} answered with a non-object JSON body"))
        try:
            return (call.wire or self._wire).response_from_wire(body)
        except HearthError as exc:
            raise self._polish(exc) from None

    def _build(self, client: httpx.Client | httpx.AsyncClient, call: _Call) -> httpx.Request:
        return client.build_request(
            "POST", call.url, params=call.params or None, headers=call.headers, content=call.body
        )

    # -- sync -----------------------------------------------------------------------------------

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = new_client(self._http.timeouts)
            return self._client

    def chat(self, request: ChatRequest) -> Response:
        call = self._prepare(request, stream=False)
        client = self._sync_client()
        response = self._retrier.send(client, self._build(client, call), stream=False)
        return self._answered(request, self._response(response, call))

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        return self._stream(self._prepare(request, stream=True), self._output_tool(request))

    def _stream(self, call: _Call, answer: OutputToolAnswer | None = None) -> Iterator[StreamEvent]:
        client = self._sync_client()
        response = self._retrier.send(client, self._build(client, call), stream=True)
        try:
            if not response.is_success:
                raise self._fail(response, call.wire)
            reader = self._decoder(call, answer)
            chunks = response.iter_bytes()
            try:
                for chunk in chunks:
                    yield from reader.feed(chunk)
                    if reader.done:
                        break
                yield from reader.finish()
            except httpx.TransportError as exc:
                raise transport_error(exc, provider=self.name, secrets=self._secrets) from exc
            except HearthError as exc:
                raise self._polish(exc)  # noqa: B904 - the same error, made safe
            _drain(chunks)
        finally:
            response.close()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._http.client is None:
            client.close()

    # -- async ----------------------------------------------------------------------------------

    def _async_client(self) -> httpx.AsyncClient:
        if self._http.async_client is not None:
            return self._http.async_client
        import asyncio

        try:
            loop: object = asyncio.get_running_loop()
        except RuntimeError:  # another async library (trio): one client for its run
            loop = None
        with self._lock:
            if self._aclient is None or self._aclient_loop is not loop:
                # A client's connections belong to the event loop that opened them.
                self._aclient = new_async_client(self._http.timeouts)
                self._aclient_loop = loop
            return self._aclient

    async def achat(self, request: ChatRequest) -> Response:
        call = self._prepare(request, stream=False)
        client = self._async_client()
        response = await self._retrier.asend(client, self._build(client, call), stream=False)
        return self._answered(request, self._response(response, call))

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._astream(self._prepare(request, stream=True), self._output_tool(request))

    async def _astream(
        self, call: _Call, answer: OutputToolAnswer | None = None
    ) -> AsyncIterator[StreamEvent]:
        client = self._async_client()
        response = await self._retrier.asend(client, self._build(client, call), stream=True)
        try:
            if not response.is_success:
                raise self._fail(response, call.wire)
            reader = self._decoder(call, answer)
            chunks = response.aiter_bytes()
            try:
                async for chunk in chunks:
                    for event in reader.feed(chunk):
                        yield event
                    if reader.done:
                        break
                for event in reader.finish():
                    yield event
            except httpx.TransportError as exc:
                raise transport_error(exc, provider=self.name, secrets=self._secrets) from exc
            except HearthError as exc:
                raise self._polish(exc)  # noqa: B904 - the same error, made safe
            await _adrain(chunks)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the connections of both clients hearth opened."""
        self.close()
        with self._lock:
            client, self._aclient = self._aclient, None
        if client is not None and self._http.async_client is None:
            await client.aclose()

    # -- embeddings (hearth.wire.*_embed) -------------------------------------------------------

    def _embed_plan(
        self, texts: Sequence[str], dimensions: int | None, task: str | None, truncate: bool
    ) -> tuple[Any, list[tuple[_Call, int]]]:
        """The embed wire module and one call per batch of inputs (no I/O)."""
        from hearth.embeddings import batches, check_dimensions, check_inputs, check_task

        items = check_inputs(texts)
        check_dimensions(dimensions)
        wire_task = check_task(task)
        module = EMBED_MODULES.get(self._endpoint.wire)
        if module is None or not self._endpoint.embeds:
            what = (f"the {self._endpoint.wire} API" if module is None
                    else f"the {self._endpoint.name} endpoint")  # fmt: skip
            raise UnsupportedFeatureError(
                f"{self.name}: {what} has no embeddings endpoint; embed "
                "with local:minilm, or an OpenAI, Gemini or Ollama model"
            )
        wire: Any = importlib.import_module(module)
        kw: dict[str, object] = {"model": self._model, "dimensions": dimensions}
        if self._endpoint.wire == "gemini":
            kw["task"] = wire_task
        elif self._endpoint.wire == "ollama":
            kw["truncate"] = truncate
        elif truncate:
            raise UnsupportedFeatureError(
                f"{self.name} cannot truncate inputs; shorten them yourself (truncate=True "
                "works for local and Ollama models)"
            )
        headers = {"content-type": "application/json", "accept": "application/json"}
        headers.update(self._format.headers)
        if self._resolved.api_key is not None:
            headers[self._format.auth_header] = (
                self._format.auth_prefix + self._resolved.api_key.reveal()
            )
        quoted = urllib.parse.quote(self._model.removeprefix("models/"), safe="-._~")
        calls = []
        for batch in batches(items, wire.MAX_BATCH):
            path = wire.embed_path(self._model, len(batch)).replace("{model}", quoted)
            body = wire.embed_request_to_wire(batch, **kw)
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            calls.append((_Call(self._resolved.base_url + path, (), headers, data), len(batch)))
        return wire, calls

    def _embed_batch(self, wire: Any, response: httpx.Response, count: int) -> _EmbedPart:
        if not response.is_success:
            raise self._fail(response)
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
            return cast(
                "_EmbedPart",
                wire.embed_response_from_wire(body, count=count, provider=self._endpoint.name),
            )
        except ValueError:
            raise self._polish(
                ProviderError(f"{self.name} answered embeddings with a body that is not JSON")
            ) from None
        except HearthError as exc:
            raise self._polish(exc) from None

    def _embed_result(
        self, parts: list[_EmbedPart], dimensions: int | None, normalize: bool
    ) -> Embeddings:
        from hearth.embeddings import Embeddings, finish_vector
        from hearth.events import Usage

        vectors = [finish_vector(v, dimensions, normalize) for part in parts for v in part[0]]
        tokens = sum(part[1] for part in parts)
        return Embeddings(vectors, Usage(input_tokens=tokens), self.name)

    def embed(
        self,
        texts: Sequence[str],
        *,
        dimensions: int | None = None,
        task: str | None = None,
        normalize: bool = True,
        truncate: bool = False,
    ) -> Embeddings:
        wire, calls = self._embed_plan(texts, dimensions, task, truncate)
        client = self._sync_client()
        parts = []
        for call, count in calls:
            response = self._retrier.send(client, self._build(client, call), stream=False)
            parts.append(self._embed_batch(wire, response, count))
        return self._embed_result(parts, dimensions, normalize)

    async def aembed(
        self,
        texts: Sequence[str],
        *,
        dimensions: int | None = None,
        task: str | None = None,
        normalize: bool = True,
        truncate: bool = False,
    ) -> Embeddings:
        wire, calls = self._embed_plan(texts, dimensions, task, truncate)
        client = self._async_client()
        parts = []
        for call, count in calls:
            response = await self._retrier.asend(client, self._build(client, call), stream=False)
            parts.append(self._embed_batch(wire, response, count))
        return self._embed_result(parts, dimensions, normalize)


EMBED_MODULES: Mapping[WireName, str] = MappingProxyType(
    {
        "openai": "hearth.wire.openai_embed",
        "gemini": "hearth.wire.gemini_embed",
        "ollama": "hearth.wire.ollama_embed",
    }
)
"""The embeddings wire module of each format that has an embeddings API (Anthropic has none)."""

_EmbedPart = tuple[list[list[float]], int]

_DRAIN_LIMIT = 1 << 16


def _drain(chunks: Iterator[bytes]) -> None:
    """Read what follows ``[DONE]`` so the connection goes back to the pool; give up quietly
    (the connection is then closed instead)."""
    seen = 0
    try:
        for chunk in chunks:
            seen += len(chunk)
            if seen > _DRAIN_LIMIT:
                return
    except httpx.HTTPError:
        return


async def _adrain(chunks: AsyncIterator[bytes]) -> None:
    """The async twin of :func:`_drain`."""
    seen = 0
    try:
        async for chunk in chunks:
            seen += len(chunk)
            if seen > _DRAIN_LIMIT:
                return
    except httpx.HTTPError:
        return


REMOTE_OPTIONS = (
    "api_key", "base_url", "timeout", "max_retries", "vision", "raw_completion", "http_client",
    "async_http_client",
)  # fmt: skip


def create_remote(endpoint: Endpoint, model: str, options: Mapping[str, object]) -> RemoteBackend:
    """Build a backend for ``endpoint:model`` from ``hearth.model`` options (see
    :data:`REMOTE_OPTIONS`); unknown or mistyped options raise InvalidRequestError."""
    from hearth.backends.endpoints import resolve
    from hearth.errors import ConfigurationError, InvalidRequestError

    unknown = sorted(set(options) - set(REMOTE_OPTIONS))
    if unknown:
        raise InvalidRequestError(
            f"unknown option(s) for {endpoint.name} models: {', '.join(unknown)}; "
            f"accepted: {', '.join(REMOTE_OPTIONS)}"
        )
    if not model.strip():
        raise ConfigurationError(
            f"no model named: write '{endpoint.name}:MODEL', e.g. '{endpoint.name}:my-model'"
        )
    api_key = _typed(options, "api_key", str, "a string")
    base_url = _typed(options, "base_url", str, "a URL string")
    vision = _typed(options, "vision", bool, "True or False")
    raw = _typed(options, "raw_completion", bool, "True or False")
    if raw and endpoint.wire not in RAW_COMPLETION_WIRES:
        raise UnsupportedFeatureError(
            f"raw_completion=True: the {endpoint.wire} API has no raw text completion; use an "
            "OpenAI-compatible server with /completions (vLLM, llama-server…) or Ollama"
        )
    client = _typed(options, "http_client", httpx.Client, "an httpx.Client")
    aclient = _typed(options, "async_http_client", httpx.AsyncClient, "an httpx.AsyncClient")
    timeout = options.get("timeout")
    if timeout is not None and not isinstance(timeout, int | float | Timeouts):
        raise InvalidRequestError(f"timeout must be a number of seconds, got {timeout!r}")
    retries = options.get("max_retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise InvalidRequestError(f"max_retries must be an integer, got {retries!r}")
    http = HttpOptions(
        timeouts=Timeouts.of(timeout),
        retry=RetryPolicy(max_retries=retries),
        client=client,
        async_client=aclient,
    )
    resolved = resolve(endpoint, api_key=api_key, base_url=base_url)
    return RemoteBackend(resolved, model, http=http, vision=vision, raw_completion=raw)


T = TypeVar("T")


def _typed(options: Mapping[str, object], key: str, kind: type[T], expected: str) -> T | None:
    from hearth.errors import InvalidRequestError

    value = options.get(key)
    if value is None or isinstance(value, kind):
        return value
    raise InvalidRequestError(f"{key} must be {expected}, got {type(value).__name__}")
