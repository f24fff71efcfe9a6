"""Ollama's errors, both directions: ``{"error": "…"}`` with the HTTP status (mid-stream, an
NDJSON line ``{"error": "…", "status"?: n}``). Pure: no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from hearth import errors
from hearth.errors import HearthError, InvalidRequestError, ProviderError
from hearth.messages import JsonObject
from hearth.wire._headers import retry_after_seconds

PROVIDER = "ollama"

_MODEL_NOT_FOUND = re.compile(r"model ['\"]([^'\"]+)['\"] not found")
_CONTEXT = re.compile(r"context (?:length|window|size)", re.IGNORECASE)
_TOO_LONG = re.compile(r"exceed|longer than|too long|but the context window holds", re.IGNORECASE)
_UNSUPPORTED = re.compile(r"does not support|only supports", re.IGNORECASE)
_TOKEN_COUNTS = re.compile(r"(\d+)\s*tokens?\D+?(\d+)")


def _error_message(body: JsonObject | str) -> str:
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body.strip() or "(empty body)"
        if not isinstance(parsed, dict):
            return body.strip()
        body = parsed
    error = body.get("error")
    if isinstance(error, dict):  # an OpenAI-style proxy in front of Ollama
        error = error.get("message")
    return error if isinstance(error, str) else json.dumps(body, ensure_ascii=False)


def error_from_wire(status: int, body: JsonObject | str, headers: Mapping[str, str]) -> HearthError:
    """Ollama's ``{"error": "…"}`` with its HTTP status → hearth's error, in one place."""
    message = _error_message(body)
    text = f"ollama: HTTP {status}: {message}"
    if status == 404:
        found = _MODEL_NOT_FOUND.search(message)
        name = found.group(1) if found else ""
        todo = f"run `ollama pull {name}`" if name else "check the model name and the base URL"
        return errors.ModelNotFoundError(f"{text}; {todo} on the Ollama server", model=name)
    if status in (401, 403, 429):
        limited = status == 429
        cls: type[ProviderError] = errors.RateLimitError if limited else errors.AuthenticationError
        retry_after = retry_after_seconds(headers) if limited else None
        return cls(text, status_code=status, provider=PROVIDER, retry_after=retry_after)
    if _CONTEXT.search(message) and _TOO_LONG.search(message):
        counts = _TOKEN_COUNTS.search(message)
        prompt, context = (int(counts[1]), int(counts[2])) if counts else (None, None)
        return errors.ContextLengthExceededError(prompt, context, detail=f"({text})")
    if status in (400, 422):
        unsupported = _UNSUPPORTED.search(message)  # e.g. '"llama3.2" does not support tools'
        return errors.UnsupportedFeatureError(text) if unsupported else InvalidRequestError(text)
    cls = errors.ServerError if status >= 500 else ProviderError
    return cls(text, status_code=status, provider=PROVIDER)


def error_line(data: JsonObject) -> HearthError:
    """The error an ``{"error": …, "status"?: n}`` line stands for (500 when it has no status)."""
    status = data.get("status")
    code = status if isinstance(status, int) and not isinstance(status, bool) else 500
    return error_from_wire(code, data, {})


_ERROR_STATUS: tuple[tuple[type[HearthError], int], ...] = (
    (InvalidRequestError, 400),
    (errors.ConfigurationError, 404),
    (errors.ModelUnavailableError, 404),
    (errors.AuthenticationError, 401),
    (errors.RateLimitError, 429),
    (errors.OverloadedError, 503),
    (errors.APITimeoutError, 504),
    (errors.RequestTimeoutError, 504),
    (errors.ServerError, 500),
    (ProviderError, 502),
)


def error_to_wire(exc: HearthError) -> tuple[int, JsonObject]:
    """The HTTP status and ``{"error": message}`` Ollama would send for ``exc``."""
    status = next((code for cls, code in _ERROR_STATUS if isinstance(exc, cls)), 500)
    if isinstance(exc, ProviderError) and exc.status_code and 400 <= exc.status_code <= 599:
        status = exc.status_code
    message = str(exc)
    if isinstance(exc, errors.ModelNotFoundError):  # Ollama's own words, so clients recognise it
        message = f"model '{exc.model}' not found, try pulling it first ({exc})"
    return status, {"error": message}
