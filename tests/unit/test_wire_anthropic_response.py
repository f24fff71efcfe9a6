"""Anthropic Messages API responses: documented bodies → Response, Response → body, and the
lossless path response → history → next request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth.errors import ServerError
from hearth.events import STOP_REASONS, StopReason, Usage
from hearth.messages import (
    JsonObject,
    JsonValue,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest
from hearth.response import Response
from hearth.wire.anthropic import chat as anthropic

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"


def load(name: str) -> JsonObject:
    body: JsonObject = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return body


def test_plain_text_response() -> None:
    r = anthropic.response_from_wire(load("response_text.json"))
    assert r.text == "Hi! My name is Claude."
    assert r.message.parts == (TextPart("Hi! My name is Claude."),)
    assert r.stop_reason == "end_turn"
    assert r.usage == Usage(input_tokens=2095, output_tokens=503)
    assert (r.model, r.response_id) == (
        "claude-sonnet-4-5-20250929",
        "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    )
    assert r.stop_sequence is None


def test_tool_use_response_with_cache_usage() -> None:
    r = anthropic.response_from_wire(load("response_tool_use.json"))
    assert r.text == "I'll check the current weather in San Francisco for you."
    assert r.tool_calls == (
        ToolCallPart(
            "toolu_01A09q90qw90lq917835lq9",
            "get_weather",
            '{"location":"San Francisco, CA","unit":"celsius"}',
        ),
    )
    assert r.tool_calls[0].parsed_arguments() == {
        "location": "San Francisco, CA",
        "unit": "celsius",
    }
    assert r.stop_reason == "tool_use"
    # hearth input = Anthropic input + cache reads + cache writes; cached = cache reads
    assert r.usage == Usage(input_tokens=384 + 2048 + 1024, output_tokens=92, cached_tokens=2048)


def test_parallel_tool_calls_keep_their_order() -> None:
    r = anthropic.response_from_wire(load("response_parallel_tools.json"))
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [
        ("toolu_01WeatherSF", "get_weather", '{"location":"San Francisco, CA"}'),
        ("toolu_01WeatherNYC", "get_weather", '{"location":"New York, NY"}'),
        ("toolu_01TimeNYC", "get_time", '{"timezone":"America/New_York"}'),
    ]
    assert r.usage == Usage(611, 176)


def test_thinking_and_redacted_thinking() -> None:
    r = anthropic.response_from_wire(load("response_thinking.json"))
    thinking, redacted, text, call = r.message.parts
    assert thinking == ThinkingPart(
        "Let me analyze this step by step...\n\nFirst, the weather tool needs a city.",
        "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL....",
    )
    assert isinstance(redacted, ThinkingPart)
    assert redacted.redacted and redacted.text == ""
    assert redacted.signature is not None and redacted.signature.startswith("EmwKAhgBEgy3va3p")
    assert text == TextPart("Based on my analysis, I'll look up the weather.")
    assert call == ToolCallPart(
        "toolu_01CswdEQBMshySk6Y9DFKrfq",
        "get_weather",
        '{"location":"Paris","détails":["température","vent"]}',
    )
    assert r.thinking.startswith("Let me analyze")


def test_stop_sequence_and_extra_fields() -> None:
    r = anthropic.response_from_wire(load("response_stop_sequence.json"))
    assert (r.stop_reason, r.stop_sequence, r.text) == ("stop_sequence", ", 5", "1, 2, 3, 4")


def test_refusal_is_a_content_filter_stop() -> None:
    r = anthropic.response_from_wire(load("response_refusal.json"))
    assert r.stop_reason == "content_filter"
    assert r.message.parts == ()


def test_server_tool_blocks_are_skipped_and_pause_turn_ends_the_turn() -> None:
    r = anthropic.response_from_wire(load("response_server_tool.json"))
    assert r.message.parts == (
        TextPart("I'll search for that."),
        TextPart("Claude Shannon was born on April 30, 1916."),
    )
    assert r.stop_reason == "end_turn"
    assert r.usage == Usage(6039, 931)


@pytest.mark.parametrize(
    ("wire", "hearth"),
    [
        ("end_turn", "end_turn"),
        ("max_tokens", "max_tokens"),
        ("stop_sequence", "stop_sequence"),
        ("tool_use", "tool_use"),
        ("pause_turn", "end_turn"),
        ("refusal", "content_filter"),
        ("model_context_window_exceeded", "max_tokens"),
        ("something_new", "end_turn"),
        (None, "end_turn"),
        (42, "end_turn"),
    ],
)
def test_stop_reasons(wire: JsonValue, hearth: StopReason) -> None:
    assert anthropic.response_from_wire({"content": [], "stop_reason": wire}).stop_reason == hearth


def test_decoding_is_tolerant_of_junk() -> None:
    body: JsonObject = {
        "id": 7,
        "content": [
            "not a block",
            {"type": "image_generation"},
            {"type": "tool_use", "id": "t", "name": "f"},
            {"type": "thinking", "thinking": "x", "signature": None},
            {"type": "text"},
        ],
        "usage": {"input_tokens": "many", "output_tokens": True, "cache_read_input_tokens": None},
    }
    r = anthropic.response_from_wire(body)
    assert r.message.parts == (ToolCallPart("t", "f", "{}"), ThinkingPart("x"), TextPart(""))
    assert r.usage == Usage()
    assert (r.model, r.response_id, r.stop_reason) == (None, None, "end_turn")
    assert anthropic.response_from_wire({}).message.parts == ()


def test_an_error_body_raises_the_mapped_error() -> None:
    with pytest.raises(ServerError, match="overloaded_error: Overloaded"):
        anthropic.response_from_wire(load("error_overloaded_529.json"))


def test_response_to_wire_golden() -> None:
    response = Response(
        message=Message.assistant(
            (
                ThinkingPart("plan", "sig"),
                ThinkingPart("local thought"),
                TextPart("Calling."),
                ToolCallPart("toolu_9", "lookup", '{"q": "x"}'),
            )
        ),
        stop_reason="tool_use",
        usage=Usage(input_tokens=100, output_tokens=20, cached_tokens=60, thinking_tokens=5),
    )
    assert anthropic.response_to_wire(response, model="local:qwen", response_id="msg_1") == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "local:qwen",
        "content": [
            {"type": "thinking", "thinking": "plan", "signature": "sig"},
            {"type": "thinking", "thinking": "local thought", "signature": ""},
            {"type": "text", "text": "Calling."},
            {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"q": "x"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 40,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 60,
            "output_tokens": 20,
        },
    }


@pytest.mark.parametrize(
    ("reason", "wire"), [("content_filter", "refusal"), ("cancelled", "end_turn")]
)
def test_stop_reasons_anthropic_lacks(reason: StopReason, wire: str) -> None:
    response = Response(Message.assistant("x"), reason, Usage())
    assert anthropic.response_to_wire(response, model="m", response_id="r")["stop_reason"] == wire


# --------------------------------------------------------------------------- round trip

_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
_arguments = st.dictionaries(_text, st.integers() | _text | st.booleans(), max_size=3).map(
    lambda d: json.dumps(d, separators=(",", ":"), ensure_ascii=False)
)
_parts = st.one_of(
    st.builds(TextPart, _text),
    st.builds(ThinkingPart, _text, st.none() | _ids),
    _ids.map(lambda sig: ThinkingPart("", sig, redacted=True)),
    st.builds(ToolCallPart, _ids, _ids, _arguments),
)


@st.composite
def _usages(draw: st.DrawFn) -> Usage:
    total = draw(st.integers(0, 10**7))
    return Usage(total, draw(st.integers(0, 10**6)), cached_tokens=draw(st.integers(0, total)))


_responses = st.builds(
    Response,
    message=st.lists(_parts, max_size=5).map(lambda ps: Message("assistant", tuple(ps))),
    stop_reason=st.sampled_from([r for r in STOP_REASONS if r not in ("cancelled", "tool_error")]),
    usage=_usages(),
    stop_sequence=st.none() | _text,
    model=_ids,
    response_id=_ids,
)


@settings(max_examples=300)
@given(_responses)
def test_response_round_trip(response: Response) -> None:
    assert response.model is not None and response.response_id is not None
    body = anthropic.response_to_wire(
        response, model=response.model, response_id=response.response_id
    )
    assert anthropic.response_from_wire(json.loads(json.dumps(body))) == response


# ------------------------------------------------------------------------------ lossless


def test_thinking_signatures_survive_history_byte_for_byte() -> None:
    """Decode a response, keep it in the conversation, send the next turn: the assistant's
    blocks go back exactly as Anthropic sent them (signatures, redacted data, tool input)."""
    original = load("response_thinking.json")
    response = anthropic.response_from_wire(original)
    history = ChatRequest(
        (
            Message.user("What's the weather in Paris?"),
            response.message,
            Message.tool(ToolResultPart("toolu_01CswdEQBMshySk6Y9DFKrfq", "18 degrees")),
        )
    )
    body = anthropic.request_to_wire(history, model="claude-sonnet-4-5-20250929", stream=False)
    messages = body["messages"]
    assert isinstance(messages, list) and isinstance(messages[1], dict)
    assert messages[1]["role"] == "assistant"
    assert json.dumps(messages[1]["content"]) == json.dumps(original["content"])
    assert json.dumps(messages[1]["content"], ensure_ascii=False) == json.dumps(
        original["content"], ensure_ascii=False
    )
