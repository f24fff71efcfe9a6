"""RemoteBackend: one generic backend for every remote API, driven by data.

What differs between providers is split in two:

* the **endpoint** (:mod:`hearth.backends.endpoints`): base URL, key variables, capabilities,
  and which wire format it speaks;
* the **wire format** (:class:`hearth.wire.base.WireFormat`, from :mod:`hearth.wire.formats`):
  its HTTP facts (paths, framing, auth header) and its pure codecs — chat, raw completion,
  embeddings — with their structured-output strategy and error mapping.

A call builds the body with the format's chat codec, posts it through
:class:`hearth._http.Retrier`, and for a stream decodes the bytes with
:class:`~hearth.backends.remote_stream.StreamReader` into the codec's stream decoder. An error
response is read in full and mapped by the codec before any event is yielded. The sync and async
twins share every non-I/O step (:meth:`RemoteBackend._prepare`, :meth:`RemoteBackend._fail`).

A raw-prompt request (``ChatRequest.prompt``) goes to the format's raw completion API
(``WireFormat.raw``) when the endpoint's capabilities say ``raw_completion``; otherwise it is
refused before any I/O. Embeddings go through :mod:`hearth.backends.remote_embed`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

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
from hearth.backends.base import BackendBase, Capabilities, raw_completion_unsupported
from hearth.backends.endpoints import Endpoint, ResolvedEndpoint
from hearth.backends.remote_embed import RemoteEmbedder
from hearth.backends.remote_http import Call, headers_for, json_body, merge_extra, url_for
from hearth.backends.remote_stream import StreamReader, adrain, drain
from hearth.embeddings import Embeddings
from hearth.errors import (
    AuthenticationError,
    HearthError,
    ModelNotFoundError,
    ProviderError,
    UnsupportedFeatureError,
)
from hearth.events import StreamEvent
from hearth.messages import ImagePart, JsonObject, JsonValue
from hearth.request import ChatRequest, EmbedRequest
from hearth.response import Response
from hearth.settings import GenerationSettings
from hearth.wire.base import AnswerFilter, ChatCodec


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
        self._format = self._endpoint.format
        self._chat_codec = self._format.chat
        self._http = http or HttpOptions()
        self._capabilities = self._endpoint.capabilities(
            model, vision=vision, raw_completion=raw_completion
        )
        self._secrets = (resolved.api_key,) if resolved.api_key is not None else ()
        self._retrier = Retrier(self._http.retry, provider=self.name, secrets=self._secrets)
        http_facts = self._format.http
        self._url = url_for(resolved, http_facts.path, model)
        self._stream_url = url_for(resolved, http_facts.stream_path, model)
        self._embedder = RemoteEmbedder(self.name, resolved, model)
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

    def _prepare(self, request: ChatRequest, *, stream: bool) -> Call:
        n = request.settings.n or 1
        if n > 1:
            raise UnsupportedFeatureError(
                f"n={n}: hearth asks a remote model for one answer per request; send {n} "
                "requests (with different seeds), or use a local model"
            )
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

    def _raw_target(self) -> tuple[ChatCodec, str, Mapping[str, JsonValue]]:
        """The codec, URL and options of raw text completion, or the refusal."""
        raw = self._format.raw
        if not self._capabilities.raw_completion or raw is None:
            raise raw_completion_unsupported(self.name)
        return raw.codec, self._resolved.base_url + raw.path, self._endpoint.raw_wire_options

    def _call(
        self,
        codec: ChatCodec | None,
        url: str,
        options: Mapping[str, JsonValue],
        request: ChatRequest,
        *,
        stream: bool,
    ) -> Call:
        """The HTTP call for ``request``: ``codec`` (None: the chat codec) builds the body,
        with the endpoint's default settings under the request's own, and the request's
        ``extra_body`` is merged into it (:func:`merge_extra`)."""
        defaults = self._endpoint.sampling
        if defaults != GenerationSettings():
            request = replace(request, settings=defaults.merged(request.settings))
        encoder = self._chat_codec if codec is None else codec
        body = encoder.request_to_wire(request, model=self._model, stream=stream, options=options)
        if request.extra_body:
            merge_extra(body, request.extra_body)
        http = self._format.http
        return Call(
            url=url,
            params=http.stream_query if stream and codec is None else (),
            headers=headers_for(http, self._resolved, self._accept(stream)),
            body=json_body(body),
            codec=codec,
        )

    def _accept(self, stream: bool) -> str:
        if not stream:
            return "application/json"
        framing = self._format.http.framing
        return "text/event-stream" if framing == "sse" else "application/x-ndjson"

    def _decoder(self, call: Call, answer: AnswerFilter | None = None) -> StreamReader:
        codec = call.codec or self._chat_codec
        decoder = codec.stream_decoder(provider=self._endpoint.name)
        return StreamReader(self._format.http.framing, decoder, answer)

    def _answer(self, request: ChatRequest) -> AnswerFilter | None:
        """The format's structured-output strategy's way back, for a chat request."""
        return None if request.raw else self._chat_codec.answer(request)

    def _answered(self, request: ChatRequest, response: Response) -> Response:
        answer = self._answer(request)
        return response if answer is None else answer.response(response)

    def _fail(self, response: httpx.Response, codec: ChatCodec | None = None) -> HearthError:
        """The mapped error for a non-2xx response whose body has been read (``codec``: the
        codec of the call, when not the chat one)."""
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
        mapper = (codec or self._chat_codec).error_from_wire
        return self._polish(mapper(status, body, response.headers, provider=self._endpoint.name))

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

    def _response(self, response: httpx.Response, call: Call) -> Response:
        if not response.is_success:
            raise self._fail(response, call.codec)
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
            return (call.codec or self._chat_codec).response_from_wire(body)
        except HearthError as exc:
            raise self._polish(exc) from None

    def _build(self, client: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
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
        return self._stream(self._prepare(request, stream=True), self._answer(request))

    def _stream(self, call: Call, answer: AnswerFilter | None = None) -> Iterator[StreamEvent]:
        client = self._sync_client()
        response = self._retrier.send(client, self._build(client, call), stream=True)
        try:
            if not response.is_success:
                raise self._fail(response, call.codec)
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
            drain(chunks)
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
        return self._astream(self._prepare(request, stream=True), self._answer(request))

    async def _astream(
        self, call: Call, answer: AnswerFilter | None = None
    ) -> AsyncIterator[StreamEvent]:
        client = self._async_client()
        response = await self._retrier.asend(client, self._build(client, call), stream=True)
        try:
            if not response.is_success:
                raise self._fail(response, call.codec)
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
            await adrain(chunks)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the connections of both clients hearth opened."""
        self.close()
        with self._lock:
            client, self._aclient = self._aclient, None
        if client is not None and self._http.async_client is None:
            await client.aclose()

    # -- embeddings (hearth.backends.remote_embed) ----------------------------------------------

    def count_request_tokens(self, request: ChatRequest) -> int:
        """The tokens of ``request``'s prompt, counted by the API's counting endpoint
        (Anthropic's ``count_tokens``, Gemini's ``countTokens``); UnsupportedFeatureError where
        the format has none. One HTTP call (see :class:`hearth.tokens.TokenCounter`)."""
        codec = self._format.count
        if codec is None:
            raise UnsupportedFeatureError(
                f"{self.name}: the {self._endpoint.wire} API has no token-counting endpoint "
                "(Anthropic and Gemini have one; local models count themselves)"
            )
        body = json_body(codec.request_to_wire(request, model=self._model))
        http = self._format.http
        url = url_for(self._resolved, codec.path(self._model), self._model)
        call = Call(url, (), headers_for(http, self._resolved, "application/json"), body)
        client = self._sync_client()
        response = self._retrier.send(client, self._build(client, call), stream=False)
        if not response.is_success:
            raise self._fail(response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self._polish(ProviderError(f"{self.name} answered a count with no JSON object"))
        try:
            return codec.response_from_wire(answer, provider=self._endpoint.name)
        except HearthError as exc:
            raise self._polish(exc) from None

    def embed(self, request: EmbedRequest) -> Embeddings:
        calls = self._embedder.calls(request)
        client = self._sync_client()
        parts = []
        for call, count in calls:
            response = self._retrier.send(client, self._build(client, call), stream=False)
            parts.append(self._embedder.batch(response, count, self._fail, self._polish))
        return self._embedder.result(parts, request)

    async def aembed(self, request: EmbedRequest) -> Embeddings:
        calls = self._embedder.calls(request)
        client = self._async_client()
        parts = []
        for call, count in calls:
            response = await self._retrier.asend(client, self._build(client, call), stream=False)
            parts.append(self._embedder.batch(response, count, self._fail, self._polish))
        return self._embedder.result(parts, request)


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
    if raw and endpoint.format.raw is None:
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
