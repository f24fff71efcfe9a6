"""Raw text completion (``ChatRequest.prompt``): request validation, the public API, the remote
refusal before any network I/O, and the server's /v1/completions over FakeBackend and a remote
model (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

import hearth
from hearth.backends.base import Capabilities
from hearth.backends.endpoints import ENDPOINTS, resolve
from hearth.backends.remote import HttpOptions, RemoteBackend
from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.events import Done, TextDelta, Usage
from hearth.messages import Message
from hearth.request import ChatRequest, OutputFormat, ToolSpec
from hearth.server import ServerSettings, create_app
from hearth.settings import GenerationSettings
from hearth.wire.openai_inbound import completion_request_from_wire

HELLO: Script = [TextDelta(" upon"), TextDelta(" a time"), Done("end_turn", Usage(3, 2))]
RAW = Capabilities(raw_completion=True)

# -- ChatRequest ---------------------------------------------------------------------------------


def test_a_raw_request_holds_the_prompt_and_no_messages() -> None:
    request = ChatRequest(prompt="Once", settings=GenerationSettings(max_tokens=3))
    assert request.raw and request.prompt == "Once" and request.messages == ()
    assert not ChatRequest((Message.user("hi"),)).raw


def test_a_raw_request_keeps_its_response_format() -> None:
    request = ChatRequest(prompt="x", response_format=OutputFormat("json"))
    assert request.response_format == OutputFormat("json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": "x", "messages": (Message.user("hi"),)}, "not both"),
        ({"prompt": "x", "tools": (ToolSpec("f"),)}, "no tools"),
        ({"prompt": "x", "tool_choice": "required"}, "no tools"),
        ({"prompt": ""}, "empty"),
        ({"prompt": b"bytes"}, "text to continue"),
        ({}, "raw prompt"),
    ],
)
def test_bad_raw_requests_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        ChatRequest(**kwargs)  # type: ignore[arg-type]


# -- the public API ------------------------------------------------------------------------------


def test_complete_sends_a_raw_request_with_the_settings() -> None:
    fake = FakeBackend([HELLO, HELLO, HELLO, HELLO], capabilities=RAW)
    m = hearth.Model(fake, GenerationSettings(temperature=0.0))
    assert m.complete("Once", max_tokens=5).text == " upon a time"
    with m.stream_complete("Once", stop=["."]) as s:
        assert "".join(s.text_stream) == " upon a time"

    async def go() -> tuple[str, str]:
        r = await m.acomplete("Once")
        async with m.astream_complete("Once") as s:
            pieces = [piece async for piece in s.text_stream]
        return r.text, "".join(pieces)

    assert asyncio.run(go()) == (" upon a time", " upon a time")
    first, second = fake.requests[0], fake.requests[1]
    assert first.prompt == "Once" and first.messages == ()
    assert first.settings.max_tokens == 5 and first.settings.temperature == 0.0
    assert second.settings.stop == (".",)
    assert all(r.raw for r in fake.requests)


def test_complete_validates_a_response_format() -> None:
    answer: Script = [TextDelta('{"a": 1}'), Done("end_turn")]
    fake = FakeBackend([answer], capabilities=RAW)
    r = hearth.Model(fake).complete("JSON:", response_format="json")
    assert r.parsed == {"a": 1}
    assert fake.requests[0].response_format == OutputFormat("json")


def test_complete_refuses_messages() -> None:
    m = hearth.Model(FakeBackend([]))
    with pytest.raises(InvalidRequestError, match="use chat"):
        m.complete([Message.user("hi")])  # type: ignore[arg-type]


# -- remote backends refuse before sending anything ----------------------------------------------


def remote(calls: list[httpx.Request]) -> RemoteBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    resolved = resolve(ENDPOINTS["openai"], api_key="sk-test", base_url=None, env={})
    http = HttpOptions(
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    return RemoteBackend(resolved, "gpt-4o-mini", http=http)


def test_a_remote_model_refuses_a_raw_prompt_without_any_request() -> None:
    calls: list[httpx.Request] = []
    m = hearth.Model(remote(calls))
    assert not m.capabilities().raw_completion
    with pytest.raises(UnsupportedFeatureError, match="only available on local models"):
        m.complete("Once upon a time")
    with pytest.raises(UnsupportedFeatureError, match="send messages instead"):
        m.stream_complete("Once upon a time")

    async def go() -> None:
        with pytest.raises(UnsupportedFeatureError, match="openai:gpt-4o-mini"):
            await m.acomplete("Once")
        with pytest.raises(UnsupportedFeatureError):
            m.astream_complete("Once")

    asyncio.run(go())
    assert calls == []


# -- the server's /v1/completions ----------------------------------------------------------------


def served(backend: hearth.Backend) -> TestClient:
    app = create_app(
        ServerSettings(models=("m",)),
        config=Config(path=Path("/dev/null")),
        backends={"m": backend},
    )
    return TestClient(app)


def test_completions_body_becomes_a_raw_request() -> None:
    parsed = completion_request_from_wire(
        {
            "model": "m",
            "prompt": ["Once upon"],
            "max_tokens": 5,
            "stop": "\n",
            "response_format": {"type": "json_object"},
        }
    )
    assert parsed.request.prompt == "Once upon" and parsed.request.messages == ()
    assert parsed.request.settings.max_tokens == 5 and parsed.request.settings.stop == ("\n",)
    assert parsed.request.response_format == OutputFormat("json")


def test_server_completions_send_the_raw_prompt() -> None:
    fake = FakeBackend([HELLO, HELLO], capabilities=RAW)
    with served(fake) as c:
        r = c.post("/v1/completions", json={"model": "m", "prompt": "Once", "max_tokens": 4})
        s = c.post(
            "/v1/completions",
            json={
                "model": "m",
                "prompt": "Once",
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["choices"][0]["text"] == " upon a time"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 3 and body["usage"]["completion_tokens"] == 2
    frames = [line[6:] for line in s.text.splitlines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert "".join(ch["choices"][0]["text"] for ch in chunks if ch["choices"]) == " upon a time"
    assert chunks[-1]["usage"]["completion_tokens"] == 2
    assert [req.prompt for req in fake.requests] == ["Once", "Once"]
    assert all(req.messages == () for req in fake.requests)


def test_server_completions_on_a_remote_model_is_a_400_pointing_to_chat() -> None:
    calls: list[httpx.Request] = []
    with served(remote(calls)) as c:
        for stream in (False, True):
            r = c.post("/v1/completions", json={"model": "m", "prompt": "Once", "stream": stream})
            assert r.status_code == 400
            error = r.json()["error"]
            assert error["type"] == "invalid_request_error"
            assert "only available on local models" in error["message"]
            assert "/v1/chat/completions" in error["message"]
    assert calls == []
