"""HTTP plumbing for remote backends: httpx clients, timeouts, retries, transport errors, redaction.

* Every client has finite timeouts (:class:`Timeouts`: connect 10 s, read 120 s, write 30 s,
  pool 10 s by default); hearth never waits forever.
* :class:`Retrier` sends one request with tenacity: connection errors and timeouts, and the
  statuses 408, 409, 429 and 5xx are retried (2 retries by default) with exponential backoff and
  full jitter. ``Retry-After`` (seconds or an HTTP date) and ``retry-after-ms`` are honoured up to
  ``max_retry_after`` (60 s); a longer wait is not retried: the response comes back and the caller
  raises its mapped error, which carries ``retry_after``. ``x-should-retry: true|false``
  overrides the status rule, as the OpenAI and Anthropic APIs use it. Only sending and reading the
  response headers (and, for a non-streamed call, the body) is retried: once a stream starts
  delivering, a failure is raised, never retried. Redirects are never followed, so a key never
  travels to a host it was not meant for.
* :func:`transport_error` maps httpx's failures: a timeout → :class:`APITimeoutError`, anything
  else → :class:`APIConnectionError`.
* :func:`redact` (from :mod:`hearth._redact`) scrubs keys from any text: the secrets by value,
  in every form they may be echoed in, ``Authorization`` / ``x-api-key`` / ``x-goog-api-key``
  header values, and ``key=`` query parameters.

The sync and async twins share the policy, the predicates and the waits; only sending differs.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx
import tenacity

from hearth._redact import REDACTED, Secrets, redact
from hearth.errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    ProviderError,
)
from hearth.wire._headers import retry_after_seconds

__all__ = [
    "MAX_RETRIES_LIMIT",
    "REDACTED",
    "RETRY_STATUSES",
    "Retrier",
    "RetryPolicy",
    "Secrets",
    "Timeouts",
    "new_async_client",
    "new_client",
    "redact",
    "transport_error",
]

RETRY_STATUSES = frozenset({408, 409, 429})
MAX_RETRIES_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed for each phase of a request. All finite: ``None`` is not accepted."""

    connect: float = 10.0
    read: float = 120.0
    write: float = 30.0
    pool: float = 10.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidRequestError(
                    f"timeout {name} must be a number of seconds, got {value!r}"
                )
            if not (value > 0 and math.isfinite(value)):
                raise InvalidRequestError(
                    f"timeout {name} must be a positive, finite number of seconds, got {value}"
                )

    @classmethod
    def of(cls, value: float | Timeouts | None) -> Timeouts:
        """``None`` → the defaults; a number → every phase; a Timeouts → itself."""
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequestError(
                f"timeout must be a number of seconds or a hearth Timeouts, got {value!r}"
            )
        return cls(value, value, value, value)

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


def _default_async_sleep(seconds: float) -> Awaitable[None]:
    import anyio

    return anyio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to wait before trying a failed request again.

    ``sleep`` / ``async_sleep`` / ``clock`` exist so tests can run on a fake clock.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=_default_async_sleep, repr=False
    )
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        n = self.max_retries
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_RETRIES_LIMIT:
            raise InvalidRequestError(
                f"max_retries must be an integer from 0 to {MAX_RETRIES_LIMIT}, got {n!r}"
            )
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0 and math.isfinite(value)):
                raise InvalidRequestError(f"{name} must be a finite number ≥ 0, got {value!r}")

    def retryable_status(self, status: int, headers: Mapping[str, str]) -> bool:
        """Whether a response with this status and these headers is worth another try."""
        should = headers.get("x-should-retry", "").strip().lower()
        if should == "false":
            return False
        if should != "true" and status not in RETRY_STATUSES and status < 500:
            return False
        wait = retry_after_seconds(headers, now=self.clock())
        return wait is None or wait <= self.max_retry_after

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_backoff, initial · 2^(attempt-1))]."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return random.uniform(0.0, ceiling)


def _retryable_exception(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


class Retrier:
    """Sends a request under a :class:`RetryPolicy`. Returns the final response — a success, or
    the last error response with its body read — or raises the mapped transport error."""

    def __init__(self, policy: RetryPolicy, *, provider: str, secrets: Secrets = ()) -> None:
        self.policy = policy
        self.provider = provider
        self._secrets = tuple(secrets)

    def _should_retry(self, state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        if outcome.failed:
            exc = outcome.exception()
            return exc is not None and _retryable_exception(exc)
        response: httpx.Response = outcome.result()
        return not response.is_success and self.policy.retryable_status(
            response.status_code, response.headers
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            response: httpx.Response = outcome.result()
            asked = retry_after_seconds(response.headers, now=self.policy.clock())
            if asked is not None:
                return asked
        return self.policy.backoff(state.attempt_number)

    def send(self, client: httpx.Client, request: httpx.Request, *, stream: bool) -> httpx.Response:
        """Send with retries. With ``stream`` a successful response is returned unread (the
        caller must close it); otherwise, and for every error response, the body is read."""
        retrying = tenacity.Retrying(
            sleep=self.policy.sleep,
            stop=tenacity.stop_after_attempt(self.policy.max_retries + 1),
            wait=self._wait,
            retry=self._should_retry,
            retry_error_callback=_last_outcome,
        )
        try:
            response: httpx.Response = retrying(_attempt, client, request, stream)
        except httpx.TransportError as exc:
            raise transport_error(exc, provider=self.provider, secrets=self._secrets) from exc
        return response

    async def asend(
        self, client: httpx.AsyncClient, request: httpx.Request, *, stream: bool
    ) -> httpx.Response:
        """The async twin of :meth:`send`."""
        retrying = tenacity.AsyncRetrying(
            sleep=self.policy.async_sleep,
            stop=tenacity.stop_after_attempt(self.policy.max_retries + 1),
            wait=self._wait,
            retry=self._should_retry,
            retry_error_callback=_last_outcome,
        )
        try:
            response: httpx.Response = await retrying(_aattempt, client, request, stream)
        except httpx.TransportError as exc:
            raise transport_error(exc, provider=self.provider, secrets=self._secrets) from exc
        return response


def _last_outcome(state: tenacity.RetryCallState) -> object:
    """When retries run out: the last response, or the last exception raised again."""
    assert state.outcome is not None
    return state.outcome.result()


def _attempt(client: httpx.Client, request: httpx.Request, stream: bool) -> httpx.Response:
    response = client.send(request, stream=True, follow_redirects=False)
    if stream and response.is_success:
        return response
    try:
        response.read()
    finally:
        response.close()
    return response


async def _aattempt(
    client: httpx.AsyncClient, request: httpx.Request, stream: bool
) -> httpx.Response:
    response = await client.send(request, stream=True, follow_redirects=False)
    if stream and response.is_success:
        return response
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


def new_client(timeouts: Timeouts, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A sync httpx client with hearth's timeouts; redirects are not followed."""
    return httpx.Client(timeout=timeouts.to_httpx(), follow_redirects=False, transport=transport)


def new_async_client(
    timeouts: Timeouts, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The async twin of :func:`new_client`."""
    return httpx.AsyncClient(
        timeout=timeouts.to_httpx(), follow_redirects=False, transport=transport
    )


_TIMEOUT_PHASES: tuple[tuple[type[httpx.TimeoutException], str], ...] = (
    (httpx.ConnectTimeout, "connect"),
    (httpx.ReadTimeout, "read"),
    (httpx.WriteTimeout, "write"),
    (httpx.PoolTimeout, "pool"),
)


def transport_error(
    exc: httpx.TransportError, *, provider: str, secrets: Secrets = ()
) -> ProviderError:
    """The hearth error for an httpx transport failure; keys are scrubbed from the message."""
    url = _request_url(exc)
    detail = redact(str(exc) or type(exc).__name__, secrets)
    if isinstance(exc, httpx.TimeoutException):
        phase = next((p for cls, p in _TIMEOUT_PHASES if isinstance(exc, cls)), "request")
        return APITimeoutError(
            f"{provider}: {url} did not answer within the {phase} timeout ({detail}); "
            "retry later, or raise timeout= if the model needs longer",
            provider=provider,
        )
    if isinstance(exc, httpx.ConnectError):
        hint = "check that the server is running and that base_url is right"
    elif isinstance(exc, httpx.UnsupportedProtocol):
        hint = "base_url must start with http:// or https://"
    else:
        hint = "the connection failed; retry later"
    return APIConnectionError(
        f"{provider}: could not reach {url}: {type(exc).__name__}: {detail}; {hint}",
        provider=provider,
    )


def _request_url(exc: httpx.TransportError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # the exception was raised without a request attached
        return "the endpoint"
    return redact(str(url.copy_with(query=None, fragment=None)))
