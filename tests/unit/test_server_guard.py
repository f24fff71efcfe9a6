"""Who may talk to the server: a web page cannot make a keyless server generate (Origin), and a
page that rebinds its DNS name to the server cannot read it either (Host)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.events import Done, TextDelta, Usage
from hearth.server import ServerSettings, create_app

HELLO: Script = [TextDelta("Hello"), Done("end_turn", Usage(3, 1))]
CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
GEMINI = "/v1beta/models/fake:generateContent"
BODIES = {
    OPENAI: CHAT,
    ANTHROPIC: {**CHAT, "max_tokens": 8},
    GEMINI: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
}


def make(**settings: object) -> tuple[TestClient, FakeBackend]:
    fake = FakeBackend([HELLO] * 4)
    app = create_app(
        ServerSettings(models=("fake",), **settings),  # type: ignore[arg-type]
        config=Config(path=Path("/dev/null")),
        backends={"fake": fake},
    )
    return TestClient(app), fake


def message(path: str, body: dict[str, object]) -> str:
    error = body["error"]
    assert isinstance(error, dict)
    if path == ANTHROPIC:
        assert body["type"] == "error"
    return str(error["message"])


@pytest.mark.parametrize("path", [OPENAI, ANTHROPIC, GEMINI, "/v1/models"])
def test_a_request_naming_another_host_is_refused_before_any_route(path: str) -> None:
    """DNS rebinding: the page's own name reaches 127.0.0.1, and is refused."""
    c, fake = make()
    with c:
        headers = {"host": "evil.example:8080"}
        if path == "/v1/models":
            r = c.get(path, headers=headers)
        else:
            r = c.post(path, json=BODIES[path], headers=headers)
    assert r.status_code == 400
    assert message(path if path != "/v1/models" else OPENAI, r.json()) == (
        "host: this server does not answer to 'evil.example' (it answers to localhost, "
        "127.0.0.1, ::1); if that name is really this server, start it with --allow-host "
        "evil.example"
    )
    assert fake.requests == []


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8080", "127.0.0.1:9", "[::1]:8080", "LOCALHOST."]
)
def test_loopback_names_are_answered_on_any_port(host: str) -> None:
    c, _ = make()
    with c:
        assert c.post(OPENAI, json=CHAT, headers={"host": host}).status_code == 200


def test_health_and_ready_answer_any_host_for_probes() -> None:
    c, _ = make()
    with c:
        assert c.get("/health", headers={"host": "10.1.2.3:8080"}).status_code == 200
        assert c.get("/ready", headers={"host": "pod.internal"}).status_code == 200


def test_the_allow_list_takes_names_wildcards_and_star() -> None:
    c, _ = make(allowed_hosts=("api.example.com", "*.lan"))
    with c:
        assert c.post(OPENAI, json=CHAT, headers={"host": "api.example.com"}).status_code == 200
        assert c.post(OPENAI, json=CHAT, headers={"host": "box.lan:80"}).status_code == 200
        assert c.post(OPENAI, json=CHAT, headers={"host": "lan"}).status_code == 400
        assert c.post(OPENAI, json=CHAT, headers={"host": "localhost"}).status_code == 400
    c, _ = make(allowed_hosts=("*",))
    with c:
        assert c.post(OPENAI, json=CHAT, headers={"host": "anything.test"}).status_code == 200


@pytest.mark.parametrize("path", [OPENAI, ANTHROPIC, GEMINI])
def test_a_web_page_cannot_make_a_keyless_server_generate(path: str) -> None:
    c, fake = make()
    with c:
        r = c.post(path, json=BODIES[path], headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    assert message(path, r.json()) == (
        "origin: requests from the web page at 'https://evil.example' are refused; to let a "
        "page use this server, start it with --cors https://evil.example"
    )
    assert fake.requests == []


def test_the_servers_own_origin_and_the_cors_origins_are_allowed() -> None:
    c, _ = make(cors_origins=("https://app.example",))
    with c:
        same = c.post(
            OPENAI, json=CHAT, headers={"host": "localhost:8080", "origin": "http://localhost:8080"}
        )
        listed = c.post(OPENAI, json=CHAT, headers={"origin": "https://app.example"})
        other = c.post(OPENAI, json=CHAT, headers={"origin": "https://other.example"})
        null = c.post(OPENAI, json=CHAT, headers={"origin": "null"})
    assert (same.status_code, listed.status_code) == (200, 200)
    assert listed.headers["access-control-allow-origin"] == "https://app.example"
    assert (other.status_code, null.status_code) == (403, 403)


def test_cors_star_allows_every_page() -> None:
    c, _ = make(cors_origins=("*",))
    with c:
        r = c.post(OPENAI, json=CHAT, headers={"origin": "https://any.example"})
    assert r.status_code == 200
