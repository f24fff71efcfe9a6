"""Timeouts, the retry policy (on a fake clock), transport-error mapping and key redaction."""

from __future__ import annotations

import asyncio
import base64
import email.utils
from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest

from hearth._http import (
    Retrier,
    RetryPolicy,
    Timeouts,
    new_async_client,
    new_client,
    redact,
    transport_error,
)
from hearth.errors import APIConnectionError, APITimeoutError, InvalidRequestError
from hearth.wire._headers import retry_after_seconds

NOW = 1_700_000_000.0
Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def policy(clock: FakeClock, **kw: float) -> RetryPolicy:
    return RetryPolicy(
        sleep=clock.sleep,
        async_sleep=clock.async_sleep,
        clock=lambda: NOW,
        **kw,  # type: ignore[arg-type]
    )


def scripted(*steps: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return handler, seen


def send(handler: Handler, pol: RetryPolicy, *, stream: bool = False) -> httpx.Response:
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        request = client.build_request("POST", "http://api.test/v1/chat", content=b"{}")
        response = Retrier(pol, provider="test").send(client, request, stream=stream)
        response.close()
        return response


def test_default_timeouts_are_finite() -> None:
    t = Timeouts()
    assert (t.connect, t.read, t.write, t.pool) == (10.0, 120.0, 30.0, 10.0)
    client = new_client(t)
    assert client.timeout == httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)
    assert client.follow_redirects is False
    client.close()
    assert new_async_client(Timeouts.of(5)).timeout == httpx.Timeout(5.0)


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), "10", True])
def test_bad_timeouts_are_refused(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="timeout"):
        Timeouts.of(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, 11, 1.5, True])
def test_bad_max_retries_is_refused(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="max_retries"):
        RetryPolicy(max_retries=bad)  # type: ignore[arg-type]


def test_retry_after_forms() -> None:
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    assert retry_after_seconds({"retry-after": date}, now=NOW) == pytest.approx(30.0)
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "-3"}) == 0.0
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 529])
def test_retryable_statuses_are_retried_then_succeed(status: int) -> None:
    clock = FakeClock()
    handler, seen = scripted(httpx.Response(status), httpx.Response(200, json={"ok": 1}))
    assert send(handler, policy(clock)).status_code == 200
    assert len(seen) == 2 and len(clock.sleeps) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    clock = FakeClock()
    handler, seen = scripted(httpx.Response(status, json={"error": {"message": "no"}}))
    response = send(handler, policy(clock))
    assert response.status_code == status and response.json() == {"error": {"message": "no"}}
    assert len(seen) == 1 and clock.sleeps == []


def test_two_retries_by_default_then_the_last_response_comes_back() -> None:
    clock = FakeClock()
    handler, seen = scripted(*(httpx.Response(503, text=f"busy {i}") for i in range(3)))
    response = send(handler, policy(clock))
    assert response.status_code == 503 and response.text == "busy 2"
    assert len(seen) == 3 and len(clock.sleeps) == 2


def test_backoff_is_exponential_with_full_jitter() -> None:
    clock = FakeClock()
    handler, _ = scripted(*(httpx.Response(500) for _ in range(6)))
    send(handler, policy(clock, max_retries=5, initial_backoff=0.5, max_backoff=3.0))
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0]
    assert len(clock.sleeps) == 5
    assert all(0 <= s <= c for s, c in zip(clock.sleeps, ceilings, strict=True))
    pol = policy(clock, initial_backoff=1.0, max_backoff=100.0)
    draws = {round(pol.backoff(3), 6) for _ in range(50)}
    assert len(draws) > 40 and max(draws) <= 4.0  # jittered over [0, 4]


def test_retry_after_is_honoured() -> None:
    clock = FakeClock()
    handler, _ = scripted(
        httpx.Response(429, headers={"retry-after": "7"}),
        httpx.Response(503, headers={"retry-after-ms": "250"}),
        httpx.Response(200),
    )
    assert send(handler, policy(clock)).status_code == 200
    assert clock.sleeps == [7.0, 0.25]


def test_retry_after_over_the_cap_is_not_retried() -> None:
    clock = FakeClock()
    handler, seen = scripted(httpx.Response(429, headers={"retry-after": "3600"}))
    assert send(handler, policy(clock, max_retry_after=60)).status_code == 429
    assert len(seen) == 1 and clock.sleeps == []


def test_x_should_retry_header_overrides_the_status_rule() -> None:
    clock = FakeClock()
    handler, seen = scripted(httpx.Response(503, headers={"x-should-retry": "false"}))
    assert send(handler, policy(clock)).status_code == 503 and len(seen) == 1
    handler, seen = scripted(
        httpx.Response(400, headers={"x-should-retry": "true"}), httpx.Response(200)
    )
    assert send(handler, policy(clock)).status_code == 200 and len(seen) == 2


def test_connection_errors_are_retried_then_mapped() -> None:
    clock = FakeClock()
    handler, seen = scripted(*(httpx.ConnectError("refused") for _ in range(3)))
    with pytest.raises(APIConnectionError, match=r"could not reach http://api\.test/v1/chat"):
        send(handler, policy(clock))
    assert len(seen) == 3


def test_read_timeout_is_mapped_to_api_timeout() -> None:
    clock = FakeClock()
    handler, _ = scripted(httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError, match="read timeout"):
        send(handler, policy(clock, max_retries=1))


def test_a_successful_stream_is_returned_unread() -> None:
    clock = FakeClock()
    handler, _ = scripted(httpx.Response(200, content=iter([b"data: x\n\n"])))
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        request = client.build_request("POST", "http://api.test/s")
        response = Retrier(policy(clock), provider="t").send(client, request, stream=True)
        assert not response.is_closed
        assert response.read() == b"data: x\n\n"
        response.close()


def test_async_twin_retries_the_same_way() -> None:
    clock = FakeClock()
    handler, seen = scripted(
        httpx.Response(429, headers={"retry-after": "1"}),
        httpx.ConnectError("x"),
        httpx.Response(200, json={}),
    )

    async def go() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            request = client.build_request("POST", "http://api.test/v1")
            response = await Retrier(policy(clock), provider="t").asend(
                client, request, stream=False
            )
            return response.status_code

    assert asyncio.run(go()) == 200
    assert len(seen) == 3 and clock.sleeps[0] == 1.0


def test_redirects_are_not_followed() -> None:
    clock = FakeClock()
    handler, seen = scripted(
        httpx.Response(307, headers={"location": "http://elsewhere.test/"}), httpx.Response(200)
    )
    assert send(handler, policy(clock)).status_code == 307 and len(seen) == 1


def test_redact_scrubs_keys_everywhere() -> None:
    text = (
        "Authorization: Bearer sk-live-123 x-api-key: ant-456 "
        "'x-goog-api-key': 'g-789' https://h/v1?alt=sse&key=g-789&x=1 api_key=abc "
        "my secret sk-raw"
    )
    out = redact(text, ["sk-raw"])
    for leaked in ("sk-live-123", "ant-456", "g-789", "abc", "sk-raw"):
        assert leaked not in out
    assert "alt=sse" in out and "x=1" in out and "Bearer ***" in out


KEY = "sk-live-Q7x9Vb2Lm4Np8Rt"


@pytest.mark.parametrize(
    "echo",
    [
        KEY,
        KEY[:-1],  # minus its last character
        KEY[1:],  # minus its first
        KEY[:8],  # the shortest prefix masked
        KEY.upper(),
        KEY.lower(),
        base64.b64encode(KEY.encode()).decode(),
        base64.b64encode(f"user:{KEY}".encode()).decode(),  # a Basic credential
        base64.b64encode(f"ab{KEY}".encode()).decode(),  # the third alignment
        base64.urlsafe_b64encode(f"{KEY}?".encode()).decode(),
        quote(KEY + "/+", safe=""),
    ],
)
def test_redact_masks_every_form_of_a_key_it_may_be_echoed_in(echo: str) -> None:
    out = redact(f"Incorrect API key provided: {echo}. See the docs.", [KEY])
    assert out == "Incorrect API key provided: ***. See the docs."


def test_redact_keeps_text_that_shares_less_than_eight_characters_with_a_key() -> None:
    text = "the key sk-live was refused; Q7x9Vb2 is not it"
    assert redact(text, [KEY]) == text
    assert redact("short keys: AbC and abc go whole", ["abc"]) == "short keys: *** and *** go whole"


def test_transport_error_message_is_redacted() -> None:
    request = httpx.Request("POST", "https://h.test/v1?key=sekrit")
    exc = httpx.ConnectError("boom with sekrit inside", request=request)
    err = transport_error(exc, provider="p", secrets=["sekrit"])
    assert "sekrit" not in str(err) and isinstance(err, APIConnectionError)
