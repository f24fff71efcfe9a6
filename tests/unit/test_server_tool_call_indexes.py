"""Every streamed tool call carries its own index, on every format the server speaks: two
parallel calls in one answer never share one (as Ollama's and llama.cpp's servers once sent
them all with index 0, which breaks agents that assemble calls by index)."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.events import Done, ToolCallEvent, Usage
from hearth.messages import ToolCallPart
from hearth.server import ServerSettings, create_app

TWO_CALLS: Script = [
    ToolCallEvent(ToolCallPart("call_a", "weather", '{"city":"Paris"}')),
    ToolCallEvent(ToolCallPart("call_b", "time", '{"tz":"CET"}')),
    Done("tool_use", Usage(9, 6)),
]
USER = [{"role": "user", "content": "weather and time in Paris?"}]


def post(path: str, body: dict[str, object]) -> str:
    app = create_app(
        ServerSettings(models=("fake",)),
        config=Config(path=Path("/dev/null")),
        backends={"fake": FakeBackend([TWO_CALLS])},
    )
    with TestClient(app) as c:
        r = c.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.text


def sse_data(text: str) -> list[dict[str, object]]:
    out = []
    for frame in text.strip().split("\n\n"):
        data = [line[6:] for line in frame.split("\n") if line.startswith("data: ")]
        if data and data[0] != "[DONE]":
            out.append(json.loads(data[0]))
    return out


def test_openai_stream_gives_each_call_its_index() -> None:
    chunks = sse_data(
        post("/v1/chat/completions", {"model": "fake", "messages": USER, "stream": True})
    )
    calls = [
        call
        for chunk in chunks
        for choice in chunk.get("choices", [])  # type: ignore[attr-defined]
        for call in choice["delta"].get("tool_calls", [])
    ]
    assert [(c["index"], c["id"], c["function"]["name"]) for c in calls] == [
        (0, "call_a", "weather"),
        (1, "call_b", "time"),
    ]


def test_anthropic_stream_gives_each_call_its_own_content_block() -> None:
    body = {"model": "fake", "max_tokens": 64, "messages": USER, "stream": True}
    events = sse_data(post("/v1/messages", body))
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [(s["index"], s["content_block"]["name"]) for s in starts] == [  # type: ignore[index]
        (0, "weather"),
        (1, "time"),
    ]
    deltas = [e for e in events if e["type"] == "content_block_delta"]
    assert [d["index"] for d in deltas] == [0, 1]


def test_gemini_stream_sends_each_call_as_its_own_part() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "weather and time?"}]}]}
    chunks = sse_data(post("/v1beta/models/fake:streamGenerateContent?alt=sse", body))
    calls = [
        part["functionCall"]
        for chunk in chunks
        for candidate in chunk.get("candidates", [])  # type: ignore[attr-defined]
        for part in candidate.get("content", {}).get("parts", [])
        if "functionCall" in part
    ]
    assert [(c["id"], c["name"]) for c in calls] == [("call_a", "weather"), ("call_b", "time")]


def test_ollama_stream_gives_each_call_its_index() -> None:
    text = post("/api/chat", {"model": "fake", "messages": USER})
    lines = [json.loads(line) for line in text.splitlines()]
    calls = [c for line in lines for c in line["message"].get("tool_calls", [])]
    assert [(c["function"]["index"], c["function"]["name"]) for c in calls] == [
        (0, "weather"),
        (1, "time"),
    ]
