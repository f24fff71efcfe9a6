"""Gemini error bodies → hearth errors and back (the mapping, in one table)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from hearth import errors
from hearth.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
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
from hearth.wire.gemini import chat as gemini

CASES: list[Any] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "gemini" / "errors.json").read_text("utf-8")
)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_documented_errors_map_to_the_tree(case: Any) -> None:
    exc = gemini.error_from_wire(case["status"], case["body"], case["headers"])
    assert type(exc) is getattr(errors, case["expect"])
    message = str(exc)
    assert "gemini" in message
    assert str(case["status"]) in message
    if isinstance(exc, ProviderError):
        assert (exc.status_code, exc.provider) == (case["status"], "gemini")


def _case(name: str) -> Any:
    return next(c for c in CASES if c["name"] == name)


def test_messages_carry_the_providers_words() -> None:
    case = _case("overloaded")
    exc = gemini.error_from_wire(503, case["body"], {})
    assert "UNAVAILABLE" in str(exc) and "The model is overloaded" in str(exc)
    html = gemini.error_from_wire(502, _case("html_gateway_error")["body"], {})
    assert "Bad Gateway" in str(html)
    listed = gemini.error_from_wire(400, _case("stream_error_array")["body"], {})
    assert "contents is not specified" in str(listed)


def test_context_length_counts_are_parsed() -> None:
    exc = gemini.error_from_wire(400, _case("context_too_long")["body"], {})
    assert isinstance(exc, ContextLengthExceededError)
    assert (exc.prompt_tokens, exc.context_length) == (1200293, 1048576)
    loose: Any = {"error": {"code": 400, "message": "Request exceeds the maximum number of tokens"}}
    vague = gemini.error_from_wire(400, loose, {})
    assert isinstance(vague, ContextLengthExceededError)
    assert (vague.prompt_tokens, vague.context_length) == (None, None)


def test_model_not_found_names_the_model() -> None:
    exc = gemini.error_from_wire(404, _case("model_not_found")["body"], {})
    assert isinstance(exc, ModelNotFoundError)
    assert exc.model == "gemini-9.0-ultra"


def test_retry_after_from_details_header_seconds_and_http_date() -> None:
    body = _case("rate_limited_retry_info")["body"]
    from_details = gemini.error_from_wire(429, body, {})
    assert isinstance(from_details, RateLimitError) and from_details.retry_after == 31.0
    from_header = gemini.error_from_wire(429, body, {"Retry-After": "5"})
    assert from_header.retry_after == 5.0  # type: ignore[attr-defined]
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    from_date = gemini.error_from_wire(429, body, {"retry-after": when})
    assert 100 < from_date.retry_after <= 120  # type: ignore[attr-defined]
    bare = gemini.error_from_wire(429, {"error": {"code": 429, "message": "slow"}}, {})
    assert bare.retry_after is None  # type: ignore[attr-defined]


def test_unusual_statuses() -> None:
    assert type(gemini.error_from_wire(422, "nope", {})) is InvalidRequestError
    assert type(gemini.error_from_wire(409, "", {})) is ProviderError
    # an error inside a 200 stream has no HTTP status: the body's code (or status name) decides
    in_stream: Any = {"error": {"message": "busy", "status": "UNAVAILABLE"}}
    assert type(gemini.error_from_wire(0, in_stream, {})) is ServerError


@pytest.mark.parametrize(
    ("exc", "status", "name"),
    [
        (InvalidRequestError("bad"), 400, "INVALID_ARGUMENT"),
        (UnsupportedFeatureError("no images"), 400, "INVALID_ARGUMENT"),
        (ContextLengthExceededError(9000, 4096), 400, "INVALID_ARGUMENT"),
        (AuthenticationError("who", status_code=403), 403, "PERMISSION_DENIED"),
        (AuthenticationError("who"), 401, "UNAUTHENTICATED"),
        (ModelNotFoundError("no such model", model="x"), 404, "NOT_FOUND"),
        (UnknownProviderError("foo", ["local"]), 404, "NOT_FOUND"),
        (RateLimitError("slow", retry_after=2.5), 429, "RESOURCE_EXHAUSTED"),
        (OverloadedError("queue full"), 503, "UNAVAILABLE"),
        (ModelUnavailableError("not pulled"), 503, "UNAVAILABLE"),
        (APIConnectionError("down"), 503, "UNAVAILABLE"),
        (APITimeoutError("slow upstream"), 504, "DEADLINE_EXCEEDED"),
        (RequestTimeoutError("deadline"), 504, "DEADLINE_EXCEEDED"),
        (ServerError("upstream", status_code=503), 503, "UNAVAILABLE"),
        (ServerError("upstream"), 500, "INTERNAL"),
        (HearthError("engine fell over"), 500, "INTERNAL"),
    ],
)
def test_error_to_wire(exc: HearthError, status: int, name: str) -> None:
    got_status, body = gemini.error_to_wire(exc)
    assert got_status == status
    error: Any = body["error"]
    assert (error["code"], error["status"]) == (status, name)
    assert isinstance(error["message"], str) and error["message"]


@pytest.mark.parametrize(
    "exc",
    [
        InvalidRequestError("bad"),
        ContextLengthExceededError(9000, 4096),
        ContextLengthExceededError(None, None),
        AuthenticationError("who"),
        ModelNotFoundError("models/x is not found for API version v1beta", model="x"),
        RateLimitError("slow", retry_after=2.5),
        ServerError("boom"),
    ],
)
def test_error_round_trip(exc: HearthError) -> None:
    status, body = gemini.error_to_wire(exc)
    back = gemini.error_from_wire(status, body, {})
    assert type(back) is type(exc)
    if isinstance(exc, ContextLengthExceededError):
        assert isinstance(back, ContextLengthExceededError)
        assert (back.prompt_tokens, back.context_length) == (
            exc.prompt_tokens,
            exc.context_length,
        )
    if isinstance(exc, RateLimitError):
        assert back.retry_after == 2.5  # type: ignore[attr-defined]
        details: Any = body["error"]
        assert details["details"][0]["retryDelay"] == "2.5s"
