"""The Anthropic, Gemini and Ollama backends: thin rows over RemoteBackend, checked end to end
against the loopback server with each format's own documented transcripts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.loopback import LoopbackServer, Reply

import hearth
from hearth.errors import AuthenticationError, ModelNotFoundError, ProviderError

FIXTURES = Path(__file__).parents[1] / "fixtures"
KEY = "key-SECRET-abcdef0123"


def raw(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


def pieces(data: bytes, size: int = 11) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as s:
        yield s


def test_anthropic(server: LoopbackServer) -> None:
    server.push(
        Reply(200, raw("anthropic/response_text.json")),
        Reply.stream(pieces(raw("anthropic/stream_text.sse"))),
    )
    m = hearth.model("anthropic:claude-opus-4-1", api_key=KEY, base_url=server.url)
    assert m.chat("hi").text == "Hi! My name is Claude."
    with m.stream("hi") as s:
        text = "".join(s.text_stream)
    assert text and s.response.stop_reason == "end_turn"
    first, second = server.requests
    assert first.path == "/v1/messages"
    assert first.headers["x-api-key"] == KEY and "authorization" not in first.headers
    assert first.headers["anthropic-version"] == "2023-06-01"
    assert second.json()["stream"] is True


def test_gemini(server: LoopbackServer) -> None:
    server.push(
        Reply(200, raw("gemini/response_text.json")),
        Reply.stream(pieces(raw("gemini/stream_text.sse"))),
    )
    m = hearth.model("gemini:gemini-2.5-flash", api_key=KEY, base_url=server.url)
    assert m.chat("hi").text.startswith("AI learns patterns")

    async def go() -> str:
        async with m.astream("hi") as s:
            return "".join([piece async for piece in s.text_stream])

    assert asyncio.run(go()).startswith("The quick brown fox")
    first, second = server.requests
    assert first.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert second.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert first.headers["x-goog-api-key"] == KEY and "key=" not in second.path


def test_ollama(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", server.url.removeprefix("http://"))
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    server.push(
        Reply(200, raw("ollama/response_text.json")),
        Reply.stream(pieces(raw("ollama/chat_text.ndjson")), content_type="application/x-ndjson"),
    )
    m = hearth.model("ollama:llama3.2")
    assert m.chat("hi").text == "Hello! How are you today?"
    with m.stream("why is the sky blue?") as s:
        assert "".join(s.text_stream) == "The sky is blue because of Rayleigh scattering."
    assert s.response.usage.input_tokens == 26
    first, second = server.requests
    assert first.path == "/api/chat" and first.json()["stream"] is False
    assert second.headers["accept"] == "application/x-ndjson"
    assert "authorization" not in first.headers


def test_ollama_model_not_found(server: LoopbackServer) -> None:
    body = {"error": "model 'llama9' not found, try pulling it first"}
    server.push(Reply.json(body, 404))
    with pytest.raises(ModelNotFoundError) as info:
        hearth.model("ollama:llama9", base_url=server.url).chat("hi")
    assert info.value.model == "llama9"


def test_gemini_key_never_leaks(server: LoopbackServer) -> None:
    body = {"error": {"code": 400, "message": f"API key not valid: {KEY}", "status": "X"}}
    server.push(Reply.json(body, 403))
    with pytest.raises(AuthenticationError) as info:
        hearth.model("gemini:gemini-2.5-flash", api_key=KEY, base_url=server.url).chat("hi")
    assert KEY not in str(info.value)


def test_anthropic_stream_failing_midway(server: LoopbackServer) -> None:
    server.push(Reply.stream([raw("anthropic/stream_error_midway.sse")]))
    m = hearth.model("anthropic:claude-opus-4-1", api_key=KEY, base_url=server.url)
    got: list[str] = []
    with pytest.raises(ProviderError), m.stream("hi") as s:
        got.extend(s.text_stream)
    assert len(server.requests) == 1
    assert json.loads(server.requests[0].body)["model"] == "claude-opus-4-1"
