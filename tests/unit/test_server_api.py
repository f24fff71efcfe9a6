"""The server's endpoints, one API flavour at a time, with FakeBackend behind them."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hearth.backends.base import Capabilities
from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.embeddings import Embeddings
from hearth.events import Done, TextDelta, ToolCallEvent, Usage
from hearth.messages import ToolCallPart
from hearth.request import EmbedRequest, OutputFormat
from hearth.server import ServerSettings, create_app

HELLO: Script = [TextDelta("Hel"), TextDelta("lo"), Done("end_turn", Usage(3, 2))]
USER = [{"role": "user", "content": "hi"}]


def client(*scripts: Script, backend: FakeBackend | None = None, **settings: object) -> TestClient:
    fake = backend or FakeBackend(list(scripts) or [HELLO])
    app = create_app(
        ServerSettings(models=("fake",), **settings),  # type: ignore[arg-type]
        config=Config(path=Path("/dev/null"), aliases={"quick": "fake"}),
        backends={"fake": fake},
    )
    return TestClient(app)


def sse(text: str) -> list[tuple[str | None, str]]:
    """(event, data) pairs of an SSE body."""
    out = []
    for frame in text.strip().split("\n\n"):
        event, data = None, ""
        for line in frame.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        out.append((event, data))
    return out


# --- OpenAI ------------------------------------------------------------------------------------


def test_chat_completion_returns_the_text_and_usage() -> None:
    with client() as c:
        r = c.post("/v1/chat/completions", json={"model": "fake", "messages": USER})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 3 and body["usage"]["completion_tokens"] == 2


def test_chat_stream_sends_role_deltas_finish_usage_and_done() -> None:
    with client() as c:
        r = c.post(
            "/v1/chat/completions",
            json={
                "model": "fake",
                "messages": USER,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = sse(r.text)
    assert frames[-1] == (None, "[DONE]")
    chunks = [json.loads(d) for _, d in frames[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks if ch["choices"])
    assert text == "Hello"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 2


def test_chat_stream_without_include_usage_has_no_usage_chunk() -> None:
    with client() as c:
        r = c.post("/v1/chat/completions", json={"model": "fake", "messages": USER, "stream": True})
    chunks = [json.loads(d) for _, d in sse(r.text)[:-1]]
    assert all("usage" not in ch for ch in chunks)


def test_tool_calls_come_back_in_openai_shape() -> None:
    call = ToolCallPart("call_1", "get_weather", '{"city":"Paris"}')
    script: Script = [ToolCallEvent(call), Done("tool_use", Usage(5, 4))]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    fake = FakeBackend([script])
    with client(backend=fake) as c:
        r = c.post("/v1/chat/completions", json={"model": "fake", "messages": USER, "tools": tools})
    message = r.json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert r.json()["choices"][0]["finish_reason"] == "tool_calls"
    assert fake.requests[0].tools[0].name == "get_weather"


def test_response_format_json_schema_reaches_the_backend() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fake = FakeBackend([HELLO, HELLO])
    with client(backend=fake) as c:
        fmt = {"type": "json_schema", "json_schema": {"name": "thing", "schema": schema}}
        c.post(
            "/v1/chat/completions", json={"model": "fake", "messages": USER, "response_format": fmt}
        )
        c.post(
            "/v1/chat/completions",
            json={"model": "fake", "messages": USER, "response_format": {"type": "json_object"}},
        )
    assert fake.requests[0].response_format == OutputFormat("json_schema", schema, name="thing")
    assert fake.requests[1].response_format == OutputFormat("json")


def test_legacy_completions_plain_and_streamed() -> None:
    fake = FakeBackend([HELLO, HELLO], capabilities=Capabilities(raw_completion=True))
    with client(backend=fake) as c:
        r = c.post("/v1/completions", json={"model": "fake", "prompt": "hi"})
        s = c.post("/v1/completions", json={"model": "fake", "prompt": ["hi"], "stream": True})
    assert r.json()["object"] == "text_completion"
    assert r.json()["choices"][0]["text"] == "Hello"
    chunks = [json.loads(d) for _, d in sse(s.text)[:-1]]
    assert "".join(ch["choices"][0]["text"] for ch in chunks) == "Hello"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_models_lists_what_is_served_and_aliases_reach_it() -> None:
    with client(HELLO) as c:
        listed = c.get("/v1/models").json()
        one = c.get("/v1/models/fake")
        missing = c.get("/v1/models/gpt-4o")
        by_alias = c.post("/v1/chat/completions", json={"model": "QUICK", "messages": USER})
    assert [m["id"] for m in listed["data"]] == ["fake"]
    assert one.json()["id"] == "fake"
    assert missing.status_code == 404
    assert by_alias.status_code == 200


class EmbeddingFake(FakeBackend):
    """FakeBackend with contract E's ``aembed``: one vector per text, [len, 1.5, -2]."""

    def __init__(self, capabilities: Capabilities | None = None) -> None:
        super().__init__([], capabilities=capabilities or Capabilities(embeddings=True))
        self.calls: list[tuple[list[str], int | None]] = []

    async def aembed(self, request: EmbedRequest) -> Embeddings:
        texts = request.texts
        self.calls.append((list(texts), request.dimensions))
        return Embeddings([[float(len(t)), 1.5, -2.0] for t in texts], Usage(len(texts)), "e")


def test_embeddings_float_and_base64() -> None:
    fake = EmbeddingFake()
    with client(backend=fake) as c:
        r = c.post("/v1/embeddings", json={"model": "fake", "input": ["ab", "abcd"]})
        b = c.post(
            "/v1/embeddings",
            json={"model": "fake", "input": "abc", "encoding_format": "base64", "dimensions": 3},
        )
    data = r.json()["data"]
    assert [d["embedding"] for d in data] == [[2.0, 1.5, -2.0], [4.0, 1.5, -2.0]]
    assert r.json()["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    raw = base64.b64decode(b.json()["data"][0]["embedding"])
    assert struct.unpack("<3f", raw) == (3.0, 1.5, -2.0)
    assert fake.calls[1] == (["abc"], 3)


@pytest.mark.parametrize(
    "body",
    [
        {"input": "x"},
        {"model": "fake", "input": []},
        {"model": "fake", "input": [[1, 2]]},
        {"model": "fake", "input": ["x"] * 2049},
        {"model": "fake", "input": "x", "dimensions": 0},
        {"model": "fake", "input": "x", "encoding_format": "hex"},
        {"model": "fake", "input": "", "encoding_format": []},  # found by schemathesis: was a 500
    ],
)
def test_embeddings_requests_are_read_by_the_wire_module(body: dict[str, object]) -> None:
    """One implementation: the server answers exactly what hearth.wire.openai.embed says."""
    from hearth.errors import InvalidRequestError
    from hearth.wire.openai.embed import embed_request_from_wire

    with pytest.raises(InvalidRequestError) as raised:
        embed_request_from_wire(body)
    fake = EmbeddingFake()
    with client(backend=fake) as c:
        r = c.post("/v1/embeddings", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == str(raised.value)
    assert fake.calls == []


def test_embeddings_on_a_chat_only_backend_is_a_400() -> None:
    with client() as c:
        r = c.post("/v1/embeddings", json={"model": "fake", "input": "x"})
    assert r.status_code == 400
    assert "embed" in r.json()["error"]["message"]


def test_embeddings_on_a_local_chat_model_are_refused_without_loading_anything() -> None:
    """A local chat model can embed only with a second context of its own (+510 MB for
    SmolLM2): the server points to an embedding model instead."""
    chat_model = EmbeddingFake(
        Capabilities(embeddings=True, raw_completion=True, context_length=8192)
    )
    with client(backend=chat_model) as c:
        r = c.post("/v1/embeddings", json={"model": "fake", "input": "x"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "fake is a chat model; /v1/embeddings needs an embedding model: serve one beside it "
        "(hearth serve --model local:minilm) and name it in 'model'"
    )
    assert chat_model.calls == []


# --- Anthropic ---------------------------------------------------------------------------------


def test_anthropic_message() -> None:
    with client() as c:
        r = c.post("/v1/messages", json={"model": "fake", "max_tokens": 16, "messages": USER})
    body = r.json()
    assert body["type"] == "message" and body["content"] == [{"type": "text", "text": "Hello"}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["output_tokens"] == 2


def test_anthropic_stream_has_the_full_event_sequence() -> None:
    call = ToolCallPart("toolu_1", "lookup", '{"q":"x"}')
    script: Script = [TextDelta("Hi"), ToolCallEvent(call), Done("tool_use", Usage(3, 5))]
    with client(script) as c:
        r = c.post(
            "/v1/messages",
            json={"model": "fake", "max_tokens": 16, "messages": USER, "stream": True},
        )
    events = [e for e, _ in sse(r.text)]
    assert events == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    datas = [json.loads(d) for _, d in sse(r.text)]
    assert datas[4]["content_block"]["name"] == "lookup"
    assert datas[7]["delta"]["stop_reason"] == "tool_use"


# --- Gemini ------------------------------------------------------------------------------------

CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_gemini_generate_content() -> None:
    with client() as c:
        r = c.post("/v1beta/models/fake:generateContent", json=CONTENTS)
    body = r.json()
    assert body["candidates"][0]["content"]["parts"] == [{"text": "Hello"}]
    assert body["candidates"][0]["finishReason"] == "STOP"
    assert body["usageMetadata"]["candidatesTokenCount"] == 2


def test_gemini_stream_sse_and_json_array() -> None:
    with client(HELLO, HELLO) as c:
        s = c.post("/v1beta/models/fake:streamGenerateContent?alt=sse", json=CONTENTS)
        a = c.post("/v1beta/models/models/fake:streamGenerateContent", json=CONTENTS)
    chunks = [json.loads(d) for _, d in sse(s.text)]
    text = "".join(
        p["text"] for ch in chunks for p in ch["candidates"][0].get("content", {}).get("parts", [])
    )
    assert text == "Hello"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert isinstance(a.json(), list) and a.json()[-1]["candidates"][0]["finishReason"] == "STOP"


def test_gemini_structured_output_reaches_the_backend() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    fake = FakeBackend([HELLO, HELLO])
    with client(backend=fake) as c:
        config = {"responseMimeType": "application/json", "responseJsonSchema": schema}
        c.post("/v1beta/models/fake:generateContent", json={**CONTENTS, "generationConfig": config})
        openapi = {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}},
        }
        c.post(
            "/v1beta/models/fake:generateContent", json={**CONTENTS, "generationConfig": openapi}
        )
    assert fake.requests[0].response_format == OutputFormat("json_schema", schema)
    assert fake.requests[1].response_format == OutputFormat("json_schema", schema)


def test_gemini_lists_models() -> None:
    with client() as c:
        listed = c.get("/v1beta/models").json()
    assert listed["models"][0]["name"] == "models/fake"


@pytest.mark.parametrize("field", ["chat_template", "chat_template_kwargs"])
def test_chat_templates_are_never_taken_from_requests(field: str) -> None:
    fake = FakeBackend([HELLO])
    with client(backend=fake) as c:
        r = c.post("/v1/chat/completions", json={"model": "fake", "messages": USER, field: "{{x}}"})
    assert r.status_code == 400 and field in r.json()["error"]["message"]
    assert fake.requests == []
