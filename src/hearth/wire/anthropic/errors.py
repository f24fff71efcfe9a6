"""Anthropic Messages API errors, both directions, in one place.

Anthropic error bodies look like ``{"type": "error", "error": {"type": "…_error", "message":
"…"}, "request_id": "…"}``; the same object arrives mid-stream as an ``event: error`` frame.

| status / error type                              | hearth error                         |
|--------------------------------------------------|--------------------------------------|
| 401 authentication_error, 403 permission_error   | AuthenticationError                  |
| 404 not_found_error                              | ModelNotFoundError                   |
| 400 "prompt is too long: N tokens > M maximum"   | ContextLengthExceededError(N, M)     |
| other 400, 413 request_too_large, 422            | InvalidRequestError                  |
| 429 rate_limit_error                             | RateLimitError (retry_after)         |
| 500 api_error, 504 timeout_error, 529 overloaded | ServerError                          |
| anything else                                    | ProviderError                        |
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from hearth.errors import (
    APITimeoutError,
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
    UnknownProviderError,
)
from hearth.messages import JsonObject, JsonValue
from hearth.wire._headers import retry_after_seconds
from hearth.wire.anthropic.blocks import PROVIDER

_STATUS_BY_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_PROMPT_TOO_LONG = re.compile(r"prompt is too long:\s*(\d+)\s*tokens\s*>\s*(\d+)", re.IGNORECASE)
_INPUT_PLUS_MAX = re.compile(
    r"input length and `?max_tokens`? exceed context limit:\s*(\d+)\s*\+\s*(\d+)\s*>\s*(\d+)",
    re.IGNORECASE,
)
_CONTEXT_WORDS = ("prompt is too long", "context limit", "context window", "context length")
_MODEL_IN_MESSAGE = re.compile(r"model:\s*(\S+)")
_MAX_MESSAGE = 500


def _parse_body(body: JsonObject | str) -> tuple[str, str]:
    """(error type, provider message) from a body that may be JSON, text or HTML."""
    parsed: JsonValue = body
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return "", body.strip()[:_MAX_MESSAGE]
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            kind, message = error.get("type"), error.get("message")
            return (kind if isinstance(kind, str) else "", str(message or "")[:_MAX_MESSAGE])
        if isinstance(error, str):
            return "", error[:_MAX_MESSAGE]
    return "", json.dumps(parsed)[:_MAX_MESSAGE]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _context_length(message: str) -> ContextLengthExceededError | None:
    detail = f"(anthropic: {message})"
    found = _PROMPT_TOO_LONG.search(message)
    if found:
        return ContextLengthExceededError(int(found[1]), int(found[2]), detail=detail)
    found = _INPUT_PLUS_MAX.search(message)
    if found:
        return ContextLengthExceededError(int(found[1]), int(found[3]), detail=detail)
    if any(words in message.lower() for words in _CONTEXT_WORDS):
        return ContextLengthExceededError(None, None, detail=detail)
    return None


def error_from_wire(status: int, body: JsonObject | str, headers: Mapping[str, str]) -> HearthError:
    """The hearth error for an Anthropic error response (see the table above)."""
    kind, message = _parse_body(body)
    text = f"anthropic returned {status}{' ' + kind if kind else ''}: {message}"
    if status in (401, 403):
        return AuthenticationError(text, status_code=status, provider=PROVIDER)
    if status == 404:
        found = _MODEL_IN_MESSAGE.search(message)
        return ModelNotFoundError(text, model=found[1] if found else "")
    if status in (400, 413, 422):
        return _context_length(message) or InvalidRequestError(text)
    retry_after = retry_after_seconds(headers)
    if status == 429:
        return RateLimitError(text, status_code=status, provider=PROVIDER, retry_after=retry_after)
    if status >= 500:
        return ServerError(text, status_code=status, provider=PROVIDER, retry_after=retry_after)
    return ProviderError(text, status_code=status, provider=PROVIDER, retry_after=retry_after)


def error_from_event(data: JsonObject) -> HearthError:
    """The hearth error for an ``event: error`` stream frame (no HTTP status: from its type)."""
    kind, _ = _parse_body(data)
    return error_from_wire(_STATUS_BY_TYPE.get(kind, 500), data, {})


_TO_WIRE: tuple[tuple[type[HearthError] | tuple[type[HearthError], ...], int, str], ...] = (
    (InvalidRequestError, 400, "invalid_request_error"),
    ((ModelNotFoundError, UnknownProviderError), 404, "not_found_error"),
    (ConfigurationError, 400, "invalid_request_error"),
    (RateLimitError, 429, "rate_limit_error"),
    (OverloadedError, 529, "overloaded_error"),
    (ModelUnavailableError, 503, "api_error"),
    ((RequestTimeoutError, APITimeoutError), 504, "timeout_error"),
)


def _classify(exc: HearthError) -> tuple[int, str]:
    if isinstance(exc, AuthenticationError):
        return (
            (403, "permission_error") if exc.status_code == 403 else (401, "authentication_error")
        )
    if isinstance(exc, ServerError):
        if exc.status_code == 529:
            return 529, "overloaded_error"
        status = exc.status_code if exc.status_code and 500 <= exc.status_code < 600 else 500
        return status, "api_error"
    for types, status, kind in _TO_WIRE:
        if isinstance(exc, types):
            return status, kind
    return (502, "api_error") if isinstance(exc, ProviderError) else (500, "api_error")


def error_to_wire(exc: HearthError) -> tuple[int, JsonObject]:
    """(HTTP status, Anthropic error body) for a hearth error, for the server. A context-length
    error is worded as Anthropic words it, so Anthropic clients recognise it."""
    status, kind = _classify(exc)
    message = str(exc)
    if isinstance(exc, ContextLengthExceededError):
        message = f"prompt is too long: {exc.prompt_tokens} tokens > {exc.context_length} maximum"
    return status, {"type": "error", "error": {"type": kind, "message": message}}
