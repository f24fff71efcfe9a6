"""Conversations as versioned JSON: every field round-trips, newer versions are refused."""

from __future__ import annotations

import json

import pytest
from tests.support.agent import answer, call, calls, fake_model

from hearth.agent import Agent
from hearth.history import HistoryFormatError, dumps, loads, transcript
from hearth.messages import (
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.tools import Tool

MESSAGES = [
    Message.system("Be brief."),
    Message.user(
        (TextPart("look"), ImagePart(b"\x89PNG\0\1", "image/png", meta={"detail": "low"}))
    ),
    Message.assistant(
        (
            ThinkingPart("let me think", signature="sig-abc=="),
            ThinkingPart("", signature="opaque", redacted=True),
            TextPart("Calling.", signature="txt-sig", meta={"thought": False}),
            ToolCallPart("call_1", "lookup", '{"q": "x" }', signature="tc", meta={"k": [1, None]}),
        )
    ),
    Message.tool(ToolResultPart("call_1", "found", is_error=True, name="lookup", meta={"a": 1})),
]


def test_every_field_round_trips_exactly() -> None:
    text = dumps(MESSAGES)
    back = loads(text)
    assert back == MESSAGES
    for a, b in zip(back, MESSAGES, strict=True):
        assert [p.meta for p in a.parts] == [p.meta for p in b.parts]  # meta is not compared by ==
    doc = json.loads(text)
    assert (doc["format"], doc["version"]) == ("hearth.conversation", 1)
    assert doc["messages"][2]["parts"][0] == {
        "kind": "thinking",
        "text": "let me think",
        "signature": "sig-abc==",
    }


def test_a_newer_version_is_refused_clearly() -> None:
    doc = json.loads(dumps(MESSAGES))
    doc["version"] = 99
    with pytest.raises(HistoryFormatError, match="newer hearth"):
        loads(json.dumps(doc))
    with pytest.raises(HistoryFormatError, match="not a hearth conversation"):
        loads('{"messages": []}')
    doc["version"] = 1
    doc["messages"][0]["parts"][0]["kind"] = "video"
    with pytest.raises(HistoryFormatError, match="unknown part kind"):
        loads(json.dumps(doc))


def test_transcript_is_readable() -> None:
    text = transcript(MESSAGES)
    assert "system:\n  Be brief." in text
    assert "(thinking) let me think" in text
    assert '→ lookup({"q": "x" })  [call_1]' in text
    assert "← [call_1] (error) found" in text
    assert "[image image/png, 6 bytes]" in text


def test_an_agent_restores_from_its_json() -> None:
    model, _ = fake_model(calls(call("t")), answer("first"))
    agent = Agent(model, [Tool.from_schema("t", {"type": "object"})], system="S")
    agent.run("q")
    model2, backend2 = fake_model(answer("second"))
    again = Agent(model2, messages=loads(agent.to_json()))
    again.run("more")
    assert list(backend2.requests[0].messages[:-1]) == agent.messages
