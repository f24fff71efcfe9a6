"""Raw text completion (``ChatRequest.prompt``): request validation, the public API, the remote
refusal before any network I/O, and the server's /v1/completions over FakeBackend and a remote
model (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from tests.support.cli import run_cli
from tests.unit.test_cli_chat import fake

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
from hearth.wire.openai.inbound import completion_request_from_wire

HELLO: Script = [TextDelta(" upon"), TextDelta(" a time"), Done("end_turn", Usage(3, 2))]
RAW = Capabilities(raw_completion=True)
__all__ = ["fake"]  # the CLI tests' fixture: a FakeBackend behind "fake:…" model names

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
    with pytest.raises(
        UnsupportedFeatureError, match="only available on local text-generation models"
    ):
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
            assert "only available on local text-generation models" in error["message"]
            assert "/v1/chat/completions" in error["message"]
    assert calls == []


# -- review fixes --------------------------------------------------------------------------------


def test_a_backend_that_does_not_say_raw_completion_never_sees_a_raw_request() -> None:
    """A plugin or test backend written before raw prompts existed reads ``messages``: it must
    not be handed a request whose messages are empty."""
    fake = FakeBackend([HELLO] * 4)  # Capabilities() without raw_completion
    m = hearth.Model(fake)
    with pytest.raises(UnsupportedFeatureError, match="fake:scripted does not take a raw text"):
        m.complete("Once")
    with pytest.raises(UnsupportedFeatureError, match="send messages instead"):
        m.stream_complete("Once")

    async def go() -> None:
        with pytest.raises(UnsupportedFeatureError):
            await m.acomplete("Once")
        with pytest.raises(UnsupportedFeatureError):
            m.astream_complete("Once")

    asyncio.run(go())
    assert fake.requests == []


# Endpoints without raw completion for "some-model" (vLLM, llama-server, LM Studio, Ollama and
# hearth take raw prompts: tests/unit/test_remote_raw_completion.py).
WIRES = ["openai", "anthropic", "gemini", "groq", "deepseek", "openrouter", "together"]


@pytest.mark.parametrize("provider", WIRES)
def test_every_remote_format_refuses_a_raw_request_on_every_path(provider: str) -> None:
    """The backend itself refuses too (for a caller that builds ChatRequest(prompt=…)):
    sync, async, streamed and not, before any byte is sent."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    resolved = resolve(ENDPOINTS[provider], api_key="k", base_url="http://127.0.0.1:9", env={})
    http = HttpOptions(
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    backend = RemoteBackend(resolved, "some-model", http=http)
    request = ChatRequest(prompt="Once upon a time")
    for call in (backend.chat, backend.stream):
        with pytest.raises(UnsupportedFeatureError, match="local text-generation models"):
            call(request)

    async def go() -> None:
        with pytest.raises(UnsupportedFeatureError):
            await backend.achat(request)
        with pytest.raises(UnsupportedFeatureError):
            backend.astream(request)

    asyncio.run(go())
    assert backend.count_tokens(request) is None
    assert calls == []


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ([1, 2, 3], "prompt: token arrays are not supported; send the prompt as text"),
        ([7], "prompt: token arrays are not supported"),
        ([[1, 2], [3]], "prompt: token arrays are not supported"),
        (["a", "b"], "prompt: hearth completes one prompt per request, got 2; send one string"),
    ],
)
def test_completions_refuse_token_arrays_and_batches_by_name(
    prompt: list[object], message: str
) -> None:
    with pytest.raises(UnsupportedFeatureError, match=message):
        completion_request_from_wire({"model": "m", "prompt": prompt})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"prompt": ""}, "prompt: must not be empty; give the text to continue"),
        ({"prompt": None}, "prompt: expected a string"),
        ({"prompt": "x", "echo": "yes"}, "echo: expected a boolean, got a string"),
    ],
)
def test_completions_bad_bodies_say_what_is_wrong(extra: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        completion_request_from_wire({"model": "m", **extra})  # type: ignore[dict-item]


def test_completions_without_max_tokens_stop_at_openais_default_of_16() -> None:
    def limit(**extra: object) -> int | None:
        body = {"model": "m", "prompt": "Once", **extra}
        return completion_request_from_wire(body).request.settings.max_tokens  # type: ignore[arg-type]

    assert limit() == 16
    assert limit(max_tokens=None) == 16
    assert limit(max_tokens=200) == 200
    assert limit(max_completion_tokens=3) == 3


def test_server_completions_errors_are_openai_shaped() -> None:
    fake = FakeBackend([HELLO], capabilities=RAW)
    with served(fake) as c:
        unknown = c.post("/v1/completions", json={"model": "nope", "prompt": "Once"})
        refused = [
            c.post("/v1/completions", json={"model": "m", "prompt": "Once", **extra})
            for extra in (
                {"n": 2},
                {"best_of": 3},
                {"suffix": "end"},
                {"prompt": [1, 2]},
            )
        ]
        ok = c.post("/v1/completions", json={"model": "m", "prompt": "Once", "stop": ["\n"]})
    assert unknown.status_code == 404, unknown.text
    assert "nope" in unknown.json()["error"]["message"]
    for r in refused:
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "unsupported_feature"
    assert ok.status_code == 200
    (request,) = fake.requests  # the refused ones never reached the backend
    assert request.settings.max_tokens == 16 and request.settings.stop == ("\n",)


def test_server_completions_on_an_embedding_only_model_is_a_400() -> None:
    embedder = FakeBackend([], capabilities=Capabilities(streaming=False, embeddings=True))
    with served(embedder) as c:
        r = c.post("/v1/completions", json={"model": "m", "prompt": "Once"})
    assert r.status_code == 400
    assert "local text-generation models" in r.json()["error"]["message"]
    assert embedder.requests == []


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_raw_from_stdin_drops_echos_line_end(
    fake: list[FakeBackend],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = FakeBackend([HELLO], capabilities=RAW)
    fake.append(backend)
    monkeypatch.setattr("sys.stdin", io.StringIO("Once\n"))
    code, out, _ = run_cli(["run", "--raw", "-m", "fake:x", "-"], capsys)
    assert (code, out) == (0, " upon a time\n")
    assert backend.requests[0].prompt == "Once"  # continued from "Once", not from a new line


def test_cli_raw_json(fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]) -> None:
    backend = FakeBackend([HELLO], capabilities=RAW)
    fake.append(backend)
    code, out, _ = run_cli(["run", "--raw", "--json", "-m", "fake:x", "-n", "2", "Once"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["text"] == " upon a time" and data["usage"]["input_tokens"] == 3
    assert backend.requests[0].raw and backend.requests[0].settings.max_tokens == 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--raw", "-m", "fake:x", "Once"], "error: fake:scripted does not take a raw"),
        (["run", "--raw", "--json", "-m", "fake:x", "Once"], "error: fake:scripted does not"),
        (["run", "--raw", "-m", "fake:x", " "], "error: the prompt is empty; give some text"),
        (["run", "--raw", "-s", "be terse", "-m", "fake:x", "Once"], "error: --system has no"),
    ],
)
def test_cli_raw_mistakes_are_one_line(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    backend = FakeBackend([HELLO])  # a chat-only backend
    fake.append(backend)
    code, out, err = run_cli(argv, capsys)
    assert (code, out) == (1, "")
    assert err.startswith(needle) and err.count("\n") == 1 and "Traceback" not in err
    assert backend.requests == []
