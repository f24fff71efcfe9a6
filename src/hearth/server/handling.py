"""What every route shares: the key check, reading the body, errors in the API's own format, the
deadline, the slot, disconnects, and running a chat to a Response or to an event stream.

One :class:`Exchange` is one HTTP request. Routes parse the body with their wire module, then
call :meth:`Exchange.complete` (a whole Response) or :meth:`Exchange.stream` (an SSE response).
``stream`` pulls the first event before anything is sent, so an error that shows up at once —
the prompt does not fit, the queue is full — is still a plain HTTP error with its real status.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hearth._text import escape_controls
from hearth.errors import (
    AuthenticationError,
    HearthError,
    InvalidRequestError,
    ModelUnavailableError,
    OverloadedError,
    RateLimitError,
    RequestTimeoutError,
    UnsupportedFeatureError,
)
from hearth.events import Done, StreamEvent
from hearth.input_limits import InputLimits, check_count, check_input
from hearth.messages import JsonObject, JsonValue
from hearth.request import ChatRequest
from hearth.response import Response as ChatResponse
from hearth.response import ResponseAccumulator
from hearth.server.body import (
    INLINE_BYTES,
    ParsePool,
    UploadAbandonedError,
    check_content_type,
    decode_json,
    read_body,
)
from hearth.server.metrics import Metrics
from hearth.server.residency import Residency
from hearth.server.router import ModelRouter
from hearth.server.served import Served
from hearth.server.settings import ServerSettings
from hearth.server.sse import Deadline, EventStreamResponse, framing, wait_for_disconnect
from hearth.server.upstream import tag_error, upstream_error
from hearth.wire.base import ErrorToWire, ServeCodec, WireChunk, WireFormat

if TYPE_CHECKING:
    from hearth.catalog.store import ModelStore
    from hearth.config.schema import Config

T = TypeVar("T")
log = logging.getLogger("hearth.server")


@dataclass(eq=False)
class ServerState:
    """Everything the routes share; it lives on ``app.state.hearth`` (no globals)."""

    settings: ServerSettings
    router: ModelRouter
    metrics: Metrics
    config: Config | None = None
    """The config the app serves (its catalogue says what Ollama's /api/pull may fetch)."""
    store: ModelStore | None = None
    """Where /api/pull fetches to and /api/delete deletes from (None: hearth's own store)."""
    draining: threading.Event = field(default_factory=threading.Event)
    """Set when the server begins to shut down (:mod:`hearth.server.running`)."""
    parsers: ParsePool = field(default_factory=ParsePool)
    """The threads that decode and parse large bodies (closed with the app)."""
    residency: Residency = field(default_factory=lambda: Residency([]))
    """Which local models are loaded (:mod:`hearth.server.residency`)."""


class ClientGoneError(Exception):
    """The client disconnected before the answer was ready."""


class _Parsed(Protocol):
    """What a wire module's ``request_from_wire`` returns: at least the request."""

    @property
    def request(self) -> ChatRequest: ...


P = TypeVar("P", bound=_Parsed)


class Encoder(Protocol):
    """The part of a wire StreamEncoder the server uses."""

    def start(self) -> list[WireChunk]: ...

    def encode(self, event: StreamEvent) -> list[WireChunk]: ...

    def error(self, exc: HearthError) -> list[WireChunk]: ...


def escape_log(text: str) -> str:
    """``text`` with CR, LF and other control characters escaped, so it stays on one line."""
    return escape_controls(text)


def public_error(exc: BaseException) -> HearthError:
    """The error a client is told about: a full queue is a 429; an upstream provider's failure
    is the gateway's (:func:`~hearth.server.upstream.upstream_error`); a bug is a bare 500."""
    if isinstance(exc, OverloadedError):
        return RateLimitError(str(exc), status_code=429, retry_after=exc.retry_after)
    upstream = upstream_error(exc)
    if upstream is not None:
        return upstream
    if isinstance(exc, HearthError):
        return exc
    return HearthError("the server failed on this request (see its log); retry or report it")


def error_response(to_wire: ErrorToWire, exc: BaseException) -> JSONResponse:
    error = public_error(exc)
    status, body = to_wire(error)
    status = getattr(error, "http_status", None) or status
    code = getattr(error, "wire_code", None)
    if isinstance(code, str):
        tag_error(body, code)
    headers: dict[str, str] = {}
    if getattr(error, "close_connection", False):
        headers["connection"] = "close"  # the rest of the body is never read
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and status in (429, 503, 529):
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(body, status_code=status, headers=headers)


def check_key(request: Request, key: str) -> None:
    """Raise AuthenticationError unless the request carries ``key`` (compared in constant
    time) as a bearer token, ``x-api-key``, ``x-goog-api-key`` or Gemini's ``?key=``."""
    wanted = key.encode()
    auth = request.headers.get("authorization", "")
    candidates = [
        auth[7:].strip() if auth[:7].lower() == "bearer " else "",
        request.headers.get("x-api-key", ""),
        request.headers.get("x-goog-api-key", ""),
        request.query_params.get("key", ""),
    ]
    matched = False
    for given in candidates:  # every candidate is compared: no early exit to time
        matched |= hmac.compare_digest(given.encode(), wanted)
    if not matched:
        raise AuthenticationError(
            "missing or wrong API key: send it as 'Authorization: Bearer <key>' (or x-api-key)",
            status_code=401,
        )


def _check_limits(fmt: WireFormat, request: ChatRequest) -> None:
    """The API's own ranges (hearth's settings allow more, for local samplers)."""
    top = fmt.limits.max_temperature
    temperature = request.settings.temperature
    if top is not None and temperature is not None and temperature > top:
        raise InvalidRequestError(
            f"temperature: must be between 0 and {top:g} in the {fmt.name} API, "
            f"got {temperature:g}"
        )


class Exchange:
    """One HTTP request to a route: its wire format, deadline and metrics."""

    def __init__(self, request: Request, fmt: WireFormat, serve: ServeCodec) -> None:
        self.request = request
        self.format = fmt
        self.serve = serve
        self.api = fmt.name
        self.state: ServerState = request.app.state.hearth
        self.started = time.monotonic()
        self.deadline = self.started + self.state.settings.timeout
        self.body_size = 0
        self.keep_alive: float | bool | None = True
        """How long the model stays loaded after this request (Ollama's keep_alive; True: the
        server's default)."""

    async def json(self) -> JsonObject:
        """The body as a JSON object (see :mod:`hearth.server.body`): 415 when not declared as
        JSON, 413 over the limit, 408 when too slow, 400 when not a JSON object of valid text."""
        settings = self.state.settings
        check_content_type(self.request)
        raw = await read_body(
            self.request,
            limit=settings.max_body,
            timeout=settings.read_timeout,
            draining=self.state.draining.is_set,
        )
        self.body_size = len(raw)
        body = await decode_json(raw, self.state.parsers)
        if settings.image_url_allow:  # fetched now, put inline: the wire modules fetch nothing
            from hearth.server.image_urls import inline_image_urls

            await inline_image_urls(body, settings.image_url_allow)
        return body

    async def parse(
        self, parse: Callable[[], P], *, model: object, listed: tuple[str, JsonValue]
    ) -> P:
        """``parse()`` (a wire module reading the body), checked against the server's input
        limits and those of ``model`` (a local model's context window); on a worker thread when
        the body is large, so the event loop never waits on it. ``listed`` is the body's list
        of messages and its name, counted against the limits before anything is parsed."""
        limits = [self.state.settings.input_limits(), *self._model_limits(model)]
        name, items = listed
        for bound in limits:
            if isinstance(items, list) and bound.max_messages is not None:
                check_count(name, len(items), bound)

        def checked() -> P:
            parsed = parse()
            for bound in limits:
                check_input(parsed.request, bound)
            return parsed

        return await self.off_loop(checked)

    def _model_limits(self, model: object) -> list[InputLimits]:
        if not isinstance(model, str):
            return []
        try:
            backend = self.state.router.get(model).backend
        except HearthError:
            return []  # the parse names the problem
        limits = getattr(backend, "input_limits", None)
        found = limits() if limits is not None else None
        return [found] if isinstance(found, InputLimits) else []

    async def off_loop(self, work: Callable[[], T]) -> T:
        """``work()``, on a worker thread when the body was large (inline when it was small:
        a thread hop would cost more than the work)."""
        if self.body_size <= INLINE_BYTES:
            return work()
        return await self.state.parsers.run(work)

    def model(self, name: str, request: ChatRequest | None = None) -> Served:
        """The served model for ``name``; checks ``max_tokens`` against its window and ``n``
        against the answers it gives per request."""
        served = self.state.router.get(name)
        if served.load_error is not None:
            raise ModelUnavailableError(
                f"model {served.id} failed to load: {served.load_error}; it will not recover "
                "by itself: fix the cause and restart the server (GET /ready shows each model)"
            )
        if request is not None:
            _check_limits(self.format, request)
        window = served.backend.capabilities().context_length
        wanted = request.settings.max_tokens if request is not None else None
        if window is not None and wanted is not None and wanted > window:
            raise InvalidRequestError(
                f"max_tokens: {wanted} is more than {served.id}'s whole context window "
                f"({window} tokens); ask for fewer"
            )
        if request is not None:
            _check_choices(served, request)
        return served

    async def guarded(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` until it finishes or the client disconnects (ClientGoneError)."""
        result: list[T] = []
        error: Exception | None = None
        gone = False
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                nonlocal gone
                await wait_for_disconnect(self.request.receive)
                gone = True
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                result.append(await work())
            except Exception as exc:  # raised below, not wrapped in an ExceptionGroup
                error = exc
            group.cancel_scope.cancel()
        if error is not None:
            raise error
        if gone or not result:
            raise ClientGoneError
        return result[0]

    def _remaining(self) -> float:
        return float(max(0.0, self.deadline - time.monotonic()))

    async def _first(self, events: AsyncIterator[StreamEvent]) -> StreamEvent:
        # anyio's cancel scope, not asyncio.timeout (a third of the CPU): a native cancel would
        # break through the shields of anyio.to_thread calls inside the backend
        # (docs/local-engine.md, "Where the time goes per token").
        try:
            with anyio.fail_after(self._remaining()):
                return await events.__anext__()
        except TimeoutError:
            raise self._timed_out(0) from None

    def _timed_out(self, produced: int) -> RequestTimeoutError:
        return RequestTimeoutError(
            f"the request's deadline ({self.state.settings.timeout:g} s) passed after "
            f"{produced} events"
        )

    def _record(self, served: Served, done: Done | None, first: float | None) -> None:
        metrics = self.state.metrics
        if first is not None:
            metrics.ttft.labels(served.id).observe(first - self.started)
        if done is not None:
            metrics.tokens.labels(served.id).inc(done.usage.output_tokens)
            metrics.prompt_tokens.labels(served.id).inc(done.usage.input_tokens)
            metrics.drafted.labels(served.id).inc(done.usage.drafted_tokens)
            metrics.accepted.labels(served.id).inc(done.usage.accepted_tokens)
        metrics.latency.labels(served.id).observe(time.monotonic() - self.started)

    async def complete(self, served: Served, request: ChatRequest) -> ChatResponse:
        """The whole answer; cancelled (and the engine freed) if the client goes."""

        async def work() -> ChatResponse:
            async with served.admission.slot(self.deadline, self.keep_alive):
                return await self._collect(served, request)

        return await self.guarded(work)

    async def _collect(self, served: Served, request: ChatRequest) -> ChatResponse:
        acc = ResponseAccumulator()
        events = served.backend.astream(request)
        first: float | None = None
        produced = 0
        try:
            # One deadline for the whole answer, not a timer per event (see _frames).
            with anyio.fail_after(self._remaining()):
                while acc.done is None:
                    event = await events.__anext__()
                    produced += 1
                    if first is None:
                        first = time.monotonic()
                    acc.add(event)
        except TimeoutError:
            raise self._timed_out(produced) from None
        finally:
            with anyio.CancelScope(shield=True):
                await _aclose(events)
            self._record(served, acc.done, first)
        return acc.response()

    async def stream(
        self, served: Served, request: ChatRequest, encoder: Encoder
    ) -> EventStreamResponse:
        """A streamed response, framed as the format says (SSE or NDJSON). The slot is taken
        and the first event pulled before any byte is sent, so early errors keep their HTTP
        status; later ones become the format's error event, and the stream is then closed."""
        stack = AsyncExitStack()

        async def open_stream() -> tuple[AsyncIterator[StreamEvent], StreamEvent]:
            await stack.enter_async_context(served.admission.slot(self.deadline, self.keep_alive))
            events = served.backend.astream(request)
            stack.push_async_callback(_aclose, events)
            return events, await self._first(events)

        try:
            events, first = await self.guarded(open_stream)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stack.aclose()
            raise
        frame, response = framing(self.format.http.framing)
        produced = [0]

        def timed_out() -> list[bytes]:
            return [frame(chunk) for chunk in encoder.error(self._timed_out(produced[0]))]

        return response(
            self._frames(served, events, first, encoder, stack, produced),
            deadline=Deadline(self.deadline, timed_out),
        )

    async def _frames(
        self,
        served: Served,
        events: AsyncIterator[StreamEvent],
        first: StreamEvent,
        encoder: Encoder,
        stack: AsyncExitStack,
        produced: list[int],
    ) -> AsyncIterator[bytes]:
        """The stream's frames. The request's deadline is the response's one cancel scope
        (:class:`~hearth.server.sse.Deadline`), not a timer per event: arming and cancelling a
        timer for every token was a quarter of the event loop's time per token."""
        frame = framing(self.format.http.framing)[0]
        done: Done | None = None
        first_at = time.monotonic()
        event: StreamEvent | None = first
        try:
            for chunk in encoder.start():
                yield frame(chunk)
            while event is not None:
                for chunk in encoder.encode(event):
                    yield frame(chunk)
                produced[0] += 1
                if isinstance(event, Done):
                    done, event = event, None
                else:
                    event = await events.__anext__()
        except Exception as exc:
            error = public_error(exc)
            if not isinstance(exc, HearthError):
                log.exception("stream failed: %s", escape_log(self.request.url.path))
            for chunk in encoder.error(error):
                yield frame(chunk)
        finally:
            with anyio.CancelScope(shield=True):
                await stack.aclose()
            self._record(served, done, first_at)


async def _aclose(events: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


def _check_choices(served: Served, request: ChatRequest) -> None:
    """``n``: at most what the model gives per request (a local model: its slots)."""
    n = request.settings.n or 1
    most = served.backend.capabilities().choices
    if n > most:
        raise UnsupportedFeatureError(
            f"n: {served.id} gives at most {most} answer{'s' if most > 1 else ''} per request, "
            f"got n={n}; send several requests"
            + (f", or serve it with slots={n}" if most > 1 else "")
        )


Handler = Callable[[Exchange], Awaitable[Response | EventStreamResponse]]
"""One endpoint of a format: what it answers to an exchange."""


def route(fmt: WireFormat, path: str, fn: Handler, methods: list[str]) -> Route:
    """The Starlette route of ``path`` that runs ``fn`` through :func:`handle` for ``fmt``."""

    async def endpoint(request: Request) -> Response | EventStreamResponse:
        return await handle(request, fmt, fn)

    return Route(path, endpoint, methods=methods)


async def handle(request: Request, fmt: WireFormat, fn: Handler) -> Response | EventStreamResponse:
    """Run one route: check the key, map every error to the API's format, count the answer."""
    if fmt.serve is None:
        raise ValueError(f"hearth does not serve the {fmt.name} format")
    exchange = Exchange(request, fmt, fmt.serve)
    state = exchange.state
    path = request.url.path
    try:
        key = state.settings.api_key
        if key is not None:
            check_key(request, key.reveal())
        answer = await fn(exchange)
    except ClientGoneError:
        answer = Response(status_code=499)
    except UploadAbandonedError as exc:
        log.info("client disconnected during the upload of %s %s", escape_log(path), exc)
        answer = Response(status_code=499)
    except Exception as exc:
        if isinstance(exc, OverloadedError):
            state.metrics.rejected.inc()
        if not isinstance(exc, HearthError):
            log.exception("request failed: %s", escape_log(path))
        elif upstream_error(exc) is not None:
            log.warning("upstream failure on %s: %s", escape_log(path), escape_log(str(exc)))
        answer = error_response(exchange.serve.error_to_wire, exc)
    state.metrics.requests.labels(fmt.name, str(answer.status_code)).inc()
    return answer
