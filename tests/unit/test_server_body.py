"""Reading request bodies: JSON only (a web page cannot send it without asking), text that is
valid Unicode in every field, and a body too large to decode on the event loop decoded off it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.events import Done, TextDelta, Usage
from hearth.server import ServerSettings, create_app

HELLO: Script = [TextDelta("Hello"), Done("end_turn", Usage(3, 1))]
OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
GEMINI = "/v1beta/models/fake:generateContent"
CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
BODIES = {
    OPENAI: CHAT,
    ANTHROPIC: {**CHAT, "max_tokens": 8},
    GEMINI: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
}


def make(**settings: object) -> tuple[TestClient, FakeBackend]:
    fake = FakeBackend([HELLO, HELLO])
    app = create_app(
        ServerSettings(models=("fake",), **settings),  # type: ignore[arg-type]
        config=Config(path=Path("/dev/null")),
        backends={"fake": fake},
    )
    return TestClient(app), fake


def message_of(path: str, body: dict[str, object]) -> str:
    error = body["error"]
    assert isinstance(error, dict)
    if path == ANTHROPIC:
        assert body["type"] == "error"
    return str(error["message"])


@pytest.mark.parametrize("path", [OPENAI, ANTHROPIC, GEMINI])
@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("text/plain", "content-type: 'text/plain' is not JSON"),
        ("application/x-www-form-urlencoded", "content-type: 'application/x-www-form-urlencoded'"),
        (None, "content-type: missing"),
        ("application/json; charset=latin-1", "content-type: charset 'latin-1' is not supported"),
    ],
)
def test_a_body_not_declared_as_json_is_a_415(
    path: str, content_type: str | None, shown: str
) -> None:
    """What a web page can send to any address without a CORS preflight is refused."""
    c, fake = make()
    headers = {} if content_type is None else {"content-type": content_type}
    with c:
        r = c.post(path, content=json.dumps(BODIES[path]).encode(), headers=headers)
    assert r.status_code == 415
    assert message_of(path, r.json()).startswith(shown)
    assert fake.requests == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=UTF-8", "application/x+json"]
)
def test_json_content_types_are_accepted(content_type: str) -> None:
    c, _ = make()
    with c:
        r = c.post(
            OPENAI, content=json.dumps(CHAT).encode(), headers={"content-type": content_type}
        )
    assert r.status_code == 200, r.text


SURROGATE_CASES = [
    (OPENAI, {"model": "fake", "messages": [{"role": "user", "content": "a\ud800b"}]},
     "messages[0].content"),
    (OPENAI, {**CHAT, "tools": [{"type": "function", "function": {"name": "f\udc00"}}]},
     "tools[0].function.name"),
    (OPENAI, {**CHAT, "tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"enum": ["ok", "\ud83d"]}}}}}]},
     "tools[0].function.parameters.properties.x.enum[1]"),
    (OPENAI, {**CHAT, "metadata": {"k\udfffey": "v"}}, "metadata.'k\\udfffey'"),
    (ANTHROPIC, {**BODIES[ANTHROPIC], "system": "be \ud800 brief"}, "system"),
    (ANTHROPIC, {**BODIES[ANTHROPIC], "tools": [{"name": "t\ud800", "input_schema": {}}]},
     "tools[0].name"),
    (GEMINI, {"contents": [{"role": "user", "parts": [{"text": "\udbff"}]}]},
     "contents[0].parts[0].text"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "field"), SURROGATE_CASES)
def test_a_lone_surrogate_in_any_field_is_a_400_naming_the_field(
    path: str, body: dict[str, object], field: str
) -> None:
    c, fake = make()
    raw = json.dumps(body).encode()  # ensure_ascii: the surrogate travels as a \\u escape
    with c:
        r = c.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert message_of(path, r.json()).startswith(
            f"{field}: not valid Unicode text: it holds a lone surrogate (U+"
        )
        assert fake.requests == []
        assert c.post(OPENAI, json=CHAT).status_code == 200  # and the server is fine


def test_a_body_that_is_not_utf8_is_a_400_saying_where() -> None:
    c, _ = make()
    raw = b'{"model": "fake", "messages": [{"role": "user", "content": "caf\xe9"}]}'
    with c:
        r = c.post(OPENAI, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("body: not valid UTF-8 (byte 0xe9 at offset")


def test_a_large_body_is_decoded_off_the_loop_with_the_same_answers() -> None:
    """Above 32 KiB the body goes to a worker thread, above 4 MiB to the pure-Python scanner:
    the same errors, the same result."""
    c, fake = make(max_body=8 * 1024 * 1024)
    many = [{"role": "user", "content": "x"}] * 130_000
    with c:
        ok = c.post(OPENAI, json={"model": "fake", "messages": many})
        bad = c.post(
            OPENAI,
            content=json.dumps(
                {"model": "fake", "messages": [*many, {"role": "user", "content": "\ud800"}]}
            ).encode(),
            headers={"content-type": "application/json"},
        )
        nan = c.post(
            OPENAI,
            content=json.dumps({"model": "fake", "messages": many, "temperature": 1})
            .replace('"temperature": 1', '"temperature": NaN')
            .encode(),
            headers={"content-type": "application/json"},
        )
    assert ok.status_code == 200 and len(fake.requests[0].messages) == 130_000
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("messages[130000].content: not valid Unicode")
    assert nan.status_code == 400 and "NaN is not valid JSON" in nan.json()["error"]["message"]


def test_the_servers_own_limits_are_checked_before_the_model() -> None:
    c, fake = make(max_messages=3, max_message_bytes=10)
    with c:
        many = c.post(OPENAI, json={"model": "fake", "messages": CHAT["messages"] * 4})
        long = c.post(
            OPENAI, json={"model": "fake", "messages": [{"role": "user", "content": "y" * 11}]}
        )
    assert many.status_code == 400 and long.status_code == 400
    assert many.json()["error"]["message"].startswith(
        "messages: 4 messages is more than 3, the server's limit (hearth serve --max-messages"
    )
    assert long.json()["error"]["message"].startswith(
        "messages[0]: 11 bytes of text is more than 10, the server's limit"
    )
    assert fake.requests == []


def test_an_app_started_again_still_parses_large_bodies() -> None:
    """The parsing threads close with the app and start again with it."""
    c, fake = make()
    many = {"model": "fake", "messages": [{"role": "user", "content": "x"}] * 2_000}  # 68 KB
    for _ in range(2):
        with c:
            assert c.post(OPENAI, json=many).status_code == 200
    assert len(fake.requests) == 2
