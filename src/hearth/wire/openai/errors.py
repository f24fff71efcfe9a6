"""OpenAI-compatible API errors, both directions, in one place.

Error bodies look like ``{"error": {"message": "…", "type": "…", "param": …, "code": …}}``; the
same object can arrive inside a stream. llama-server adds ``n_prompt_tokens`` / ``n_ctx`` to its
``exceed_context_size_error``.

| status / body                                            | hearth error                  |
|----------------------------------------------------------|-------------------------------|
| 401, 403                                                 | AuthenticationError           |
| 404                                                      | ModelNotFoundError            |
| 400 ``context_length_exceeded`` / "maximum context length" | ContextLengthExceededError  |
| 400 ``code: unsupported_feature`` (``hearth serve``)       | UnsupportedFeatureError       |
| other 400, 413, 422                                      | InvalidRequestError           |
| 408                                                      | APITimeoutError               |
| 429                                                      | RateLimitError (retry_after)  |
| 500-599                                                  | ServerError                   |
| anything else                                            | ProviderError                 |
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from hearth.errors import (
    APIConnectionError,
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
    UnsupportedFeatureError,
)
from hearth.messages import JsonObject, JsonValue
from hearth.wire._headers import retry_after_seconds

PROVIDER = "openai"

_CONTEXT_CODES = ("context_length_exceeded", "exceed_context_size_error", "string_above_max_length")
_CONTEXT_WORDS = re.compile(
    r"maximum context length|context length|context window|context size|prompt is too long"
    r"|too many tokens",
    re.IGNORECASE,
)
_CONTEXT_LIMIT = re.compile(r"(?:maximum context length|context window) is (\d+)", re.I)
_PROMPT_TOKENS = re.compile(
    r"resulted in (\d+) tokens|\((\d+) in the messages|requested (\d+) tokens", re.I
)
_MODEL_IN_MESSAGE = re.compile(r"model [`'\"]([^`'\"]+)[`'\"]", re.I)


@dataclass(frozen=True, slots=True)
class _ErrorInfo:
    message: str
    type: str | None
    code: str | None
    param: str | None
    body: JsonObject


def _info(status: int, body: JsonObject | str) -> _ErrorInfo:
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            text = body.strip()[:500] or f"HTTP {status} with an empty body"
            return _ErrorInfo(text, None, None, None, {})
        body = parsed
    error = body.get("error")
    obj: JsonObject = error if isinstance(error, dict) else body
    message = obj.get("message")
    if not isinstance(message, str) or not message:
        message = error if isinstance(error, str) and error else json.dumps(body)[:500]
    code = obj.get("code")
    return _ErrorInfo(
        message=message,
        type=_s(obj.get("type")),
        code=str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None,
        param=_s(obj.get("param")),
        body=obj,
    )


def _s(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def error_from_wire(
    status: int,
    body: JsonObject | str,
    headers: Mapping[str, str],
    *,
    provider: str = PROVIDER,
) -> HearthError:
    """The hearth error for an error response (or an ``error`` object inside a stream)."""
    info = _info(status, body)
    said = f"{provider} answered {status}: {info.message}"
    if 400 <= status <= 499 and status not in (408, 429):
        return _client_error(status, info, said, provider)
    wait = retry_after_seconds(headers)
    if status == 408:
        return APITimeoutError(f"{said} — retry later", status_code=status, provider=provider)
    if status == 429:
        return RateLimitError(
            f"{said} — slow down or retry after the wait the server asked for",
            status_code=status, provider=provider, retry_after=wait,
        )  # fmt: skip
    if 500 <= status <= 599:
        return ServerError(
            f"{said} — the server failed; retry later",
            status_code=status, provider=provider, retry_after=wait,
        )  # fmt: skip
    return ProviderError(said, status_code=status, provider=provider, retry_after=wait)


def _client_error(status: int, info: _ErrorInfo, said: str, provider: str) -> HearthError:
    if status in (401, 403):
        return AuthenticationError(
            f"{said} — check the API key and its permissions for this model",
            status_code=status, provider=provider,
        )  # fmt: skip
    if status == 404:
        found = _MODEL_IN_MESSAGE.search(info.message)
        return ModelNotFoundError(
            f"{said} — check the model name and that your key may use it",
            model=found[1] if found else "",
        )
    if status in (400, 413, 422) and _is_context_error(info):
        prompt, limit = _context_numbers(info)
        return ContextLengthExceededError(prompt, limit, detail=f"({said})")
    if status == 400 and info.code == "unsupported_feature":  # hearth serve's own code
        return UnsupportedFeatureError(said)
    if status in (400, 413, 422):
        param = f" (parameter {info.param})" if info.param else ""
        return InvalidRequestError(f"{said}{param} — fix the request; retrying will not help")
    return ProviderError(said, status_code=status, provider=provider)


def _is_context_error(info: _ErrorInfo) -> bool:
    if info.code in _CONTEXT_CODES or info.type in _CONTEXT_CODES:
        return True
    return bool(_CONTEXT_WORDS.search(info.message))


def _context_numbers(info: _ErrorInfo) -> tuple[int | None, int | None]:
    """(prompt tokens, window) from llama-server's fields or OpenAI's message; None if unsaid."""
    prompt, limit = info.body.get("n_prompt_tokens"), info.body.get("n_ctx")
    if isinstance(prompt, int) and isinstance(limit, int):
        return prompt, limit
    found_limit = _CONTEXT_LIMIT.search(info.message)
    found_prompt = _PROMPT_TOKENS.search(info.message)
    tokens = next((g for g in found_prompt.groups() if g), None) if found_prompt else None
    return (
        int(tokens) if tokens is not None else None,
        int(found_limit[1]) if found_limit else None,
    )


# (error class, HTTP status, OpenAI error type, code), most specific first.
_TO_WIRE: tuple[tuple[type[HearthError], int, str, str | None], ...] = (
    (ContextLengthExceededError, 400, "invalid_request_error", "context_length_exceeded"),
    (UnsupportedFeatureError, 400, "invalid_request_error", "unsupported_feature"),
    (InvalidRequestError, 400, "invalid_request_error", None),
    (ModelNotFoundError, 404, "invalid_request_error", "model_not_found"),
    (UnknownProviderError, 404, "invalid_request_error", "model_not_found"),
    (ConfigurationError, 400, "invalid_request_error", None),
    (AuthenticationError, 401, "authentication_error", "invalid_api_key"),
    (RateLimitError, 429, "rate_limit_error", "rate_limit_exceeded"),
    (OverloadedError, 503, "server_error", "overloaded"),
    (ModelUnavailableError, 503, "server_error", "model_unavailable"),
    (APITimeoutError, 504, "server_error", "timeout"),
    (RequestTimeoutError, 504, "server_error", "timeout"),
    (APIConnectionError, 502, "server_error", "upstream_unreachable"),
    (ServerError, 502, "server_error", None),
    (ProviderError, 502, "server_error", None),
)


def error_to_wire(exc: HearthError) -> tuple[int, JsonObject]:
    """An HTTP status and OpenAI error body for ``exc`` (for the server)."""
    status, kind, code = 500, "server_error", None
    for cls, cls_status, cls_kind, cls_code in _TO_WIRE:
        if isinstance(exc, cls):
            status, kind, code = cls_status, cls_kind, cls_code
            break
    upstream = getattr(exc, "status_code", None)
    relay = isinstance(exc, AuthenticationError | ServerError) and isinstance(upstream, int)
    if relay and isinstance(upstream, int) and 400 <= upstream <= 599:
        status = upstream
    body: JsonObject = {"error": {"message": str(exc), "type": kind, "param": None, "code": code}}
    return status, body
