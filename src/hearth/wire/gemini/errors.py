"""Gemini error bodies ↔ hearth errors, in one place.

Gemini answers failures with ``{"error": {"code", "message", "status", "details": [...]}}``
(``status`` a google.rpc code name such as ``INVALID_ARGUMENT``; a stream's error body may be
wrapped in a one-element list). Mapping, by HTTP status (or ``code`` when there is none):

====================================  ===========================================================
401, 403, or 400 ``API_KEY_INVALID``  AuthenticationError
404                                   ModelNotFoundError (``model`` parsed from the message)
400 "input token count (N) exceeds    ContextLengthExceededError(N, M) (None when no counts)
the maximum … allowed (M)"
other 400, 422                        InvalidRequestError
429                                   RateLimitError; ``retry_after`` from ``Retry-After``
                                      (seconds or HTTP date), else ``details[].retryDelay``
500-599                               ServerError
anything else                         ProviderError
====================================  ===========================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hearth.errors import (
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    ContextLengthExceededError,
    HearthError,
    InvalidRequestError,
    ModelNotFoundError,
    ModelUnavailableError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from hearth.messages import JsonObject, JsonValue
from hearth.wire._headers import retry_after_seconds
from hearth.wire.gemini.shapes import PROVIDER

STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_CODES: dict[str, int] = {name: code for code, name in STATUS_NAMES.items()} | {
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "ALREADY_EXISTS": 409,
    "UNKNOWN": 500,
    "DATA_LOSS": 500,
}
_CONTEXT = re.compile(
    r"input token count \((\d+)\) exceeds the maximum number of tokens allowed \((\d+)\)", re.I
)
_CONTEXT_LOOSE = re.compile(r"exceeds the maximum number of tokens", re.I)
_MODEL = re.compile(r"models/([\w.\-]+) is not found")
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


@dataclass(frozen=True, slots=True)
class _Body:
    code: int | None = None
    message: str = ""
    status: str = ""
    details: list[JsonObject] = field(default_factory=list)


def error_from_wire(status: int, body: JsonObject | str, headers: Mapping[str, str]) -> HearthError:
    """The hearth error for a Gemini failure (see the module docstring)."""
    error = _parse(body)
    if not 100 <= status <= 599:  # an error inside a 200 stream: trust the body
        status = error.code or _CODES.get(error.status, 500)
    name = f" {error.status}" if error.status else ""
    text = f"{PROVIDER} API error (HTTP {status}{name}): {error.message or 'no message'}"
    if status in (401, 403) or _reason(error) == "API_KEY_INVALID":
        return AuthenticationError(text, status_code=status, provider=PROVIDER)
    if status == 404:
        found = _MODEL.search(error.message)
        return ModelNotFoundError(text, model=found.group(1) if found else "")
    if status in (400, 422):
        return _bad_request(text, error.message)
    if status == 429:
        retry = _retry_after(headers, error.details)
        return RateLimitError(text, status_code=status, provider=PROVIDER, retry_after=retry)
    kind = ServerError if 500 <= status <= 599 else ProviderError
    return kind(text, status_code=status, provider=PROVIDER)


def _bad_request(text: str, message: str) -> InvalidRequestError:
    exact = _CONTEXT.search(message)
    if exact:
        return ContextLengthExceededError(
            int(exact.group(1)), int(exact.group(2)), detail=f"({text})"
        )
    if _CONTEXT_LOOSE.search(message):
        return ContextLengthExceededError(None, None, detail=f"({text})")
    return InvalidRequestError(text)


def error_to_wire(exc: HearthError) -> tuple[int, JsonObject]:
    """The HTTP status and Gemini error body the server answers with for ``exc``."""
    status = _status_for(exc)
    message = str(exc)
    if isinstance(exc, ContextLengthExceededError):  # Gemini's own words, which parse back
        counts = exc.prompt_tokens is not None and exc.context_length is not None
        message = (
            f"The input token count ({exc.prompt_tokens}) exceeds the maximum number of "
            f"tokens allowed ({exc.context_length})."
            if counts
            else f"The input token count exceeds the maximum number of tokens allowed. {exc}"
        )
    error: JsonObject = {
        "code": status,
        "message": message,
        "status": STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "UNKNOWN"),
    }
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after >= 0:
        error["details"] = [{"@type": _RETRY_INFO, "retryDelay": f"{retry_after:g}s"}]
    return status, {"error": error}


_STATUS_BY_KIND: tuple[tuple[type[HearthError] | tuple[type[BaseException], ...], int], ...] = (
    (InvalidRequestError, 400),
    (ConfigurationError, 404),
    (RateLimitError, 429),
    ((OverloadedError, ModelUnavailableError, APIConnectionError), 503),
    ((RequestTimeoutError, TimeoutError), 504),  # APITimeoutError is a TimeoutError
)


def _status_for(exc: HearthError) -> int:
    if isinstance(exc, AuthenticationError):
        return exc.status_code if exc.status_code in (401, 403) else 401
    for kind, status in _STATUS_BY_KIND:
        if isinstance(exc, kind):
            return status
    if isinstance(exc, ProviderError) and exc.status_code and 500 <= exc.status_code <= 599:
        return exc.status_code
    return 500


def _parse(body: JsonObject | str | list[JsonValue]) -> _Body:
    value: JsonValue = body
    if isinstance(body, str):
        try:
            value = json.loads(body)
        except ValueError:
            return _Body(message=body.strip()[:500])
    if isinstance(value, list) and value:
        value = value[0]
    error = value.get("error") if isinstance(value, dict) else None
    if not isinstance(error, dict):
        return _Body(message=json.dumps(value)[:500] if value else "")
    code = error.get("code")
    message = error.get("message")
    status = error.get("status")
    details = error.get("details")
    return _Body(
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        message=message if isinstance(message, str) else "",
        status=status if isinstance(status, str) else "",
        details=[d for d in details if isinstance(d, dict)] if isinstance(details, list) else [],
    )


def _reason(error: _Body) -> str | None:
    for detail in error.details:
        reason = detail.get("reason")
        if isinstance(reason, str):
            return reason
    return None


def _retry_after(headers: Mapping[str, str], details: list[JsonObject]) -> float | None:
    seconds = retry_after_seconds(headers)
    if seconds is not None:
        return seconds
    for detail in details:
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(float(delay[:-1]), 0.0)
            except ValueError:
                continue
    return None
