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


def test_openai_responses(server: LoopbackServer) -> None:
    server.push(
        Reply(200, raw("responses/response_text.json")),
        Reply.stream(pieces(raw("responses/stream_text.sse"))),
    )
    m = hearth.model("openai-responses:gpt-4.1", api_key=KEY, base_url=server.url)
    assert m.chat("hi").text.startswith("In a peaceful grove")
    with m.stream("hi") as s:
        assert "".join(s.text_stream) == "Hi there! How can I assist you today?"
    assert s.response.usage.input_tokens == 37
    first, second = server.requests
    assert first.path == "/responses" and first.headers["authorization"] == f"Bearer {KEY}"
    assert first.json()["input"] == [{"role": "user", "content": "hi"}]
    assert first.json()["store"] is False and "stream" not in first.json()
    assert second.json()["stream"] is True


def test_openai_responses_reasoning_goes_back_with_the_next_turn(server: LoopbackServer) -> None:
    server.push(
        Reply.stream(pieces(raw("responses/stream_reasoning_tool.sse"))),
        Reply(200, raw("responses/response_text.json")),
    )
    m = hearth.model("openai-responses:o4-mini", api_key=KEY, base_url=server.url)
    weather = hearth.Tool.from_function(_get_weather)
    with m.stream("Weather in Paris?", tools=[weather]) as s:
        list(s.text_stream)
    (call,) = s.response.tool_calls
    assert call.id == "call_12345xyz"
    history = [
        hearth.Message.user("Weather in Paris?"),
        s.response.message,
        hearth.Message.tool(hearth.ToolResultPart(call.id, "18°C")),
    ]
    m.chat(history, tools=[weather])
    sent = server.requests[1].json()["input"]
    lines = raw("responses/stream_reasoning_tool.sse").splitlines()
    completed = json.loads(next(line for line in reversed(lines) if line.startswith(b"data: "))[6:])
    reasoning = completed["response"]["output"][0]
    assert json.dumps(sent[1]) == json.dumps(reasoning)  # byte for byte, encrypted_content too
    assert sent[2]["call_id"] == "call_12345xyz" and sent[3]["type"] == "function_call_output"


def test_openai_responses_failing_midway_and_key_never_leaks(server: LoopbackServer) -> None:
    server.push(
        Reply.stream([raw("responses/stream_error_midway.sse")]),
        Reply.json({"error": {"message": f"Incorrect API key provided: {KEY}"}}, 401),
    )
    m = hearth.model("openai-responses:gpt-4.1", api_key=KEY, base_url=server.url)
    with pytest.raises(ProviderError, match="midway"), m.stream("hi") as s:
        list(s.text_stream)
    with pytest.raises(AuthenticationError) as info:
        m.chat("hi")
    assert KEY not in str(info.value)


def test_a_configured_responses_provider(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``type = "responses"``: any server with /v1/responses (here one without a key)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[providers.box]\ntype = "responses"\nbase_url = "{server.url}/v1"\n', encoding="utf-8"
    )
    monkeypatch.setenv("HEARTH_CONFIG", str(config))
    server.push(Reply(200, raw("responses/response_text.json")))
    m = hearth.model("box:my-model")
    assert m.chat("hi").text.startswith("In a peaceful grove")
    assert server.requests[0].path == "/v1/responses"
    assert "authorization" not in server.requests[0].headers


def _get_weather(location: str) -> str:
    """Get the weather in a city."""
    return "18°C"
