"""Anthropic error mapping, both directions: documented error bodies → hearth errors, and hearth
errors → the status and body an Anthropic client expects from the server."""

from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

import pytest

from hearth.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ContextLengthExceededError,
    HearthError,
    InvalidRequestError,
    ModelLoadError,
    ModelNotFoundError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    UnknownProviderError,
    UnsupportedFeatureError,
)
from hearth.messages import JsonObject
from hearth.wire.anthropic import chat as anthropic

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"


def load(name: str) -> JsonObject:
    body: JsonObject = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return body


@pytest.mark.parametrize(
    ("fixture", "status", "cls", "message"),
    [
        ("error_authentication_401.json", 401, AuthenticationError, "invalid x-api-key"),
        ("error_permission_403.json", 403, AuthenticationError, "does not have permission"),
        ("error_invalid_request_400.json", 400, InvalidRequestError, "roles must alternate"),
        ("error_rate_limit_429.json", 429, RateLimitError, "per-minute rate limit"),
        ("error_api_500.json", 500, ServerError, "Internal server error"),
        ("error_overloaded_529.json", 529, ServerError, "Overloaded"),
    ],
)
def test_documented_errors(fixture: str, status: int, cls: type[HearthError], message: str) -> None:
    err = anthropic.error_from_wire(status, load(fixture), {})
    assert type(err) is cls
    assert "anthropic" in str(err) and str(status) in str(err) and message in str(err)
    if isinstance(err, ProviderError):
        assert (err.status_code, err.provider) == (status, "anthropic")


def test_overloaded_is_a_retryable_server_error() -> None:
    err = anthropic.error_from_wire(529, load("error_overloaded_529.json"), {"retry-after": "3"})
    assert isinstance(err, ServerError)
    assert err.retry_after == 3.0
    assert "overloaded_error" in str(err)


def test_prompt_too_long_carries_the_token_counts() -> None:
    err = anthropic.error_from_wire(400, load("error_context_length_400.json"), {})
    assert isinstance(err, ContextLengthExceededError)
    assert (err.prompt_tokens, err.context_length) == (208310, 200000)
    assert "prompt is too long: 208310 tokens > 200000 maximum" in str(err)


def test_input_plus_max_tokens_over_the_window_is_a_context_length_error() -> None:
    body: JsonObject = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "input length and `max_tokens` exceed context limit: 188240 + 21333 > "
            "200000, decrease input length or `max_tokens` and try again",
        },
    }
    err = anthropic.error_from_wire(400, body, {})
    assert isinstance(err, ContextLengthExceededError)
    assert (err.prompt_tokens, err.context_length) == (188240, 200000)


def test_context_error_without_numbers() -> None:
    body = (
        '{"type":"error","error":{"type":"invalid_request_error","message":"Prompt is too long"}}'
    )
    err = anthropic.error_from_wire(400, body, {})
    assert isinstance(err, ContextLengthExceededError)
    assert (err.prompt_tokens, err.context_length) == (None, None)
    assert "does not fit the model's context window" in str(err)


def test_not_found_names_the_model() -> None:
    err = anthropic.error_from_wire(404, load("error_not_found_404.json"), {})
    assert isinstance(err, ModelNotFoundError)
    assert err.model == "claude-3-opus-nonexistent"
    assert "404" in str(err)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "30"}, 30.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_rate_limit_retry_after(headers: dict[str, str], expected: float | None) -> None:
    err = anthropic.error_from_wire(429, load("error_rate_limit_429.json"), headers)
    assert isinstance(err, RateLimitError)
    assert err.retry_after == expected


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    err = anthropic.error_from_wire(429, load("error_rate_limit_429.json"), {"Retry-After": when})
    assert err.retry_after is not None and 50 < err.retry_after <= 61  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (502, "<html><body>502 Bad Gateway</body></html>", ServerError),
        (503, "", ServerError),
        (
            413,
            '{"type":"error","error":{"type":"request_too_large","message":"Request too big"}}',
            InvalidRequestError,
        ),
        (422, {"detail": "unprocessable"}, InvalidRequestError),
        (
            402,
            {"type": "error", "error": {"type": "billing_error", "message": "credit"}},
            ProviderError,
        ),
        (409, {"error": "conflict"}, ProviderError),
    ],
)
def test_other_statuses_and_bodies(
    status: int, body: JsonObject | str, cls: type[HearthError]
) -> None:
    err = anthropic.error_from_wire(status, body, {})
    assert type(err) is cls
    assert f"anthropic returned {status}" in str(err)


def test_html_body_is_quoted_in_the_message() -> None:
    err = anthropic.error_from_wire(502, "<html><body>502 Bad Gateway</body></html>", {})
    assert "502 Bad Gateway" in str(err)
    long = anthropic.error_from_wire(500, "x" * 10_000, {})
    assert len(str(long)) < 600


# ------------------------------------------------------------------------- to the wire

TO_WIRE: list[tuple[HearthError, int, str, type[HearthError]]] = [
    (
        InvalidRequestError("messages[0].role: bad"),
        400,
        "invalid_request_error",
        InvalidRequestError,
    ),
    (UnsupportedFeatureError("no images"), 400, "invalid_request_error", InvalidRequestError),
    (
        ContextLengthExceededError(5000, 4096),
        400,
        "invalid_request_error",
        ContextLengthExceededError,
    ),
    (ModelNotFoundError("no such model", model="x"), 404, "not_found_error", ModelNotFoundError),
    (UnknownProviderError("foo", ["local"]), 404, "not_found_error", ModelNotFoundError),
    (ConfigurationError("bad option"), 400, "invalid_request_error", InvalidRequestError),
    (
        AuthenticationError("bad key", status_code=401),
        401,
        "authentication_error",
        AuthenticationError,
    ),
    (
        AuthenticationError("forbidden", status_code=403),
        403,
        "permission_error",
        AuthenticationError,
    ),
    (RateLimitError("slow down", status_code=429), 429, "rate_limit_error", RateLimitError),
    (OverloadedError("queue full"), 529, "overloaded_error", ServerError),
    (ServerError("upstream overloaded", status_code=529), 529, "overloaded_error", ServerError),
    (ServerError("upstream 503", status_code=503), 503, "api_error", ServerError),
    (ServerError("upstream ?"), 500, "api_error", ServerError),
    (RequestTimeoutError("deadline passed"), 504, "timeout_error", ServerError),
    (APITimeoutError("upstream timed out"), 504, "timeout_error", ServerError),
    (APIConnectionError("cannot connect"), 502, "api_error", ServerError),
    (ModelLoadError("cannot load"), 500, "api_error", ServerError),
]


@pytest.mark.parametrize(
    ("exc", "status", "kind", "back"), TO_WIRE, ids=[type(c[0]).__name__ for c in TO_WIRE]
)
def test_error_to_wire_and_back(
    exc: HearthError, status: int, kind: str, back: type[HearthError]
) -> None:
    got_status, body = anthropic.error_to_wire(exc)
    assert (got_status, body["type"]) == (status, "error")
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"type", "message"}
    assert error["type"] == kind
    if not isinstance(exc, ContextLengthExceededError):  # worded as Anthropic words it: below
        assert error["message"] == str(exc)
    assert type(anthropic.error_from_wire(got_status, json.loads(json.dumps(body)), {})) is back


def test_context_length_is_worded_as_anthropic_words_it() -> None:
    _, body = anthropic.error_to_wire(ContextLengthExceededError(5000, 4096))
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "prompt is too long: 5000 tokens > 4096 maximum",
    }
    back = anthropic.error_from_wire(400, body, {})
    assert isinstance(back, ContextLengthExceededError)
    assert (back.prompt_tokens, back.context_length) == (5000, 4096)


def test_message_is_kept() -> None:
    _, body = anthropic.error_to_wire(InvalidRequestError("messages[0].role: unknown role 'x'"))
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "messages[0].role: unknown role 'x'",
    }
