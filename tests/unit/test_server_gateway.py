"""hearth serve as a gateway to a remote provider: the provider's failures are reported as the
gateway's (502), never as the client's own (401) or as hearth's (500), and the server's key
for the provider never reaches the client, in any form the provider may echo it in."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient
from tests.support.loopback import LoopbackServer, Reply

import hearth
from hearth._secret import Secret
from hearth.config.schema import Config
from hearth.server import ServerSettings, create_app

KEY = "sk-proj-Zq81Xv3Kd0Wm7Yb2Rt5Np9"
ECHOES = (
    KEY,
    KEY[:-1],
    KEY.upper(),
    base64.b64encode(KEY.encode()).decode(),
    quote(KEY + "/", safe=""),
)
OPENAI = "/v1/chat/completions"
CHAT = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
ROUTES = {
    OPENAI: CHAT,
    "/v1/messages": {**CHAT, "max_tokens": 8},
    "/v1beta/models/gpt:generateContent": {"contents": [{"parts": [{"text": "hi"}]}]},
}


@pytest.fixture
def upstream() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def gateway(upstream: LoopbackServer, **settings: object) -> TestClient:
    model = hearth.model("openai:gpt-4o-mini", api_key=KEY, base_url=upstream.url, max_retries=0)
    app = create_app(
        ServerSettings(models=("gpt",), **settings),  # type: ignore[arg-type]
        config=Config(path=Path("/dev/null")),
        backends={"gpt": model.backend},
    )
    return TestClient(app)


def echoing(status: int) -> Reply:
    words = " ".join(ECHOES)
    return Reply.json(
        {"error": {"message": f"Incorrect API key provided: {words}", "code": "invalid_api_key"}},
        status,
    )


def assert_no_key(text: str) -> None:
    for echo in ECHOES:
        assert echo not in text
    assert KEY[3:15] not in text and KEY[-10:] not in text


@pytest.mark.parametrize("status", [401, 403])
def test_an_upstream_auth_failure_is_a_502_saying_the_servers_key_was_refused(
    upstream: LoopbackServer, status: int
) -> None:
    upstream.push(echoing(status))
    with gateway(upstream, api_key=Secret("client-key")) as c:
        r = c.post(OPENAI, json=CHAT, headers={"authorization": "Bearer client-key"})
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == "upstream_auth_error"
    assert error["message"] == (
        f"the upstream provider openai refused the API key this server uses for it (HTTP "
        f"{status}); the server's operator must fix that key. Your request was not at fault."
    )
    assert_no_key(r.text)


@pytest.mark.parametrize("path", list(ROUTES))
def test_every_api_reports_the_upstream_auth_failure_as_a_502(
    upstream: LoopbackServer, path: str
) -> None:
    upstream.push(echoing(401))
    with gateway(upstream) as c:
        r = c.post(path, json=ROUTES[path])
    assert r.status_code == 502
    assert "upstream_auth_error" in r.text.lower()
    assert_no_key(r.text)


def test_an_upstream_auth_failure_on_a_stream_is_a_502_before_any_event(
    upstream: LoopbackServer,
) -> None:
    upstream.push(echoing(401))
    with gateway(upstream) as c:
        r = c.post(OPENAI, json={**CHAT, "stream": True})
    assert r.status_code == 502 and r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "upstream_auth_error"


def test_an_upstream_5xx_is_a_502_with_the_key_scrubbed(upstream: LoopbackServer) -> None:
    upstream.push(echoing(500))
    with gateway(upstream) as c:
        r = c.post(OPENAI, json=CHAT)
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == "upstream_error"
    assert error["message"].startswith("the upstream provider openai failed (HTTP 500): ")
    assert "Incorrect API key provided: ***" in error["message"]
    assert_no_key(r.text)


def test_the_clients_own_wrong_key_is_still_a_401(upstream: LoopbackServer) -> None:
    with gateway(upstream, api_key=Secret("client-key")) as c:
        r = c.post(OPENAI, json=CHAT, headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert upstream.requests == []


def test_an_upstream_rate_limit_stays_a_429_with_retry_after(upstream: LoopbackServer) -> None:
    upstream.push(Reply.json({"error": {"message": "slow down"}}, 429, retry_after="7"))
    with gateway(upstream) as c:
        r = c.post(OPENAI, json=CHAT)
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
